using System.Threading.Tasks.Sources;

namespace Chat.Server.Realtime;

/// <summary>
/// A socket's bounded outbound queue: many producers, one reader (the socket's writer loop). It does what the
/// loop needs of a bounded <c>Channel&lt;T&gt;</c> (non-blocking <see cref="TryWrite"/> that fails when full or
/// completed, <see cref="WaitToReadAsync"/>, <see cref="TryRead"/>, <see cref="Complete"/>) at a fifth of its
/// idle footprint: the channel kept ~650 bytes of reusable operation objects per socket, which mattered at
/// 10,000 idle sockets. The reader's wait is one reused value-task source; continuations run on the pool,
/// so a producer never runs a socket write inline.
/// </summary>
internal sealed class FrameQueue(int limit) : IValueTaskSource<bool>
{
    private readonly Queue<OutboundFrame> _items = new();
    private ManualResetValueTaskSourceCore<bool> _waiter = new() { RunContinuationsAsynchronously = true };
    private bool _readerWaiting;
    private bool _completed;
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <returns>False when the queue is full or completed; nothing is queued then.</returns>
    public bool TryWrite(OutboundFrame frame)
    {
        lock (_items)
        {
            if (_completed || _items.Count >= limit) return false;
            _items.Enqueue(frame);
            Volatile.Write(ref _count, _items.Count);
            if (!_readerWaiting) return true;
            _readerWaiting = false;
        }
        _waiter.SetResult(true);
        return true;
    }

    public bool TryRead(out OutboundFrame frame)
    {
        lock (_items)
        {
            if (!_items.TryDequeue(out frame!)) return false;
            Volatile.Write(ref _count, _items.Count);
            return true;
        }
    }

    /// <summary>No more frames are accepted; the reader still gets what is queued, then false.</summary>
    public void Complete()
    {
        lock (_items)
        {
            if (_completed) return;
            _completed = true;
            if (!_readerWaiting) return;
            _readerWaiting = false;
        }
        _waiter.SetResult(true);
    }

    /// <summary>True when a frame can be read; false once completed and empty. One caller at a time.</summary>
    public ValueTask<bool> WaitToReadAsync()
    {
        lock (_items)
        {
            if (_items.Count > 0) return new ValueTask<bool>(true);
            if (_completed) return new ValueTask<bool>(false);
            _waiter.Reset();
            _readerWaiting = true;
            return new ValueTask<bool>(this, _waiter.Version);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token)
    {
        _waiter.GetResult(token);
        // Woken by a write or by Complete: look again (a completed, empty queue answers false).
        lock (_items) return _items.Count > 0 || !_completed;
    }

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _waiter.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _waiter.OnCompleted(continuation, state, token, flags);
}
