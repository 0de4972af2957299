using System.Buffers;
using System.Net.WebSockets;
using System.Text.Unicode;
using Chat.Protocol;
using Chat.Server.Observability;

namespace Chat.Server.Realtime;

/// <summary>
/// One open socket. Producers only enqueue (<see cref="Send"/> never blocks); a single writer loop is the
/// only caller of <c>SendAsync</c>; a receive loop reads frames. A client too slow to read is closed with 1008
/// (contract, "Limits and closing"); the producer (another user's send) never waits for it. "Too slow" is judged
/// on what the client takes over time, never on the size of a burst (a group commit queues a whole batch at once,
/// and pipelined sends queue batch after batch): the queue may pass its bound (<see cref="ChatOptions.SendQueueLimit"/>
/// frames or <see cref="ChatOptions.SendQueueBytes"/> bytes), and the socket is closed only when, past it for a whole
/// <see cref="ChatOptions.SlowConsumerTimeout"/>, the client took less than one bound's worth (that many frames or
/// bytes) in that time; or at once when it is past its bound while the whole server is over
/// <see cref="ChatOptions.MaxOutboundBytes"/>.
/// </summary>
public sealed partial class ChatConnection
{
    private const int InitialReceiveBuffer = 4 * 1024;

    private readonly WebSocket _socket;
    private readonly FrameQueue _queue;
    private readonly int _queueLimit;
    private readonly long _queueBytes;
    private readonly TimeSpan _slowConsumerTimeout;
    private readonly OutboundBudget? _budget;
    private readonly TimeProvider _clock;
    private readonly Lock _slowCheck = new();
    private long _pastBoundSince;        // timestamp (TimeProvider) since the queue is past its bound; 0 when it is not
    private long _framesTakenAtWindow;   // _framesTaken and _bytesTaken when the current window began
    private long _bytesTakenAtWindow;
    private long _framesTaken;           // frames and bytes the socket has taken, written by the writer loop only
    private long _bytesTaken;
    private long _catchUpPagedAt;        // while a paged sync waits for the client's next page: when the page ended; else 0
    private long _catchUpCoveredUpTo;    // the last id the replay delivered
    private readonly int _maxFrameBytes;
    private readonly TimeSpan _closeTimeout;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _inFlight;
    private readonly int _maxInFlight;
    private readonly ChatMetrics? _metrics;
    private int _closeStatus;
    private string _closeReason = "";
    private SocketCloseReason _closeCause; // set with _closeStatus, by the first Close
    private volatile bool _discardQueue;
    private volatile bool _acceptingSends = true;
    private volatile bool _receiveRefused;
    private readonly TaskCompletionSource _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private TaskCompletionSource? _roomForReply;   // set while a reply waits for the queue to drop below half its bound
    private TaskCompletionSource? _sendsDrained;   // set while a graceful close waits for the sends in flight

    /// <param name="budget">The server-wide outbound budget; null (tests) counts nothing server-wide.</param>
    /// <param name="clock">Measures how long the queue stays past its bound; the system clock when null.</param>
    /// <param name="metrics">Counts the frames the socket takes; null (tests) counts nothing.</param>
    public ChatConnection(WebSocket socket, long userId, string username, long tokenId, ChatOptions options, ILogger logger,
        OutboundBudget? budget = null, TimeProvider? clock = null, ChatMetrics? metrics = null)
    {
        _metrics = metrics;
        _socket = socket;
        UserId = userId;
        Username = username;
        TokenId = tokenId;
        _queueLimit = options.SendQueueLimit;
        _queueBytes = options.SendQueueBytes;
        _slowConsumerTimeout = options.SlowConsumerTimeout;
        _budget = budget;
        _clock = clock ?? TimeProvider.System;
        _maxFrameBytes = options.MaxFrameBytes;
        _closeTimeout = options.CloseTimeout;
        _maxInFlight = options.MaxInFlightSendsPerSocket;
        _inFlight = new SemaphoreSlim(_maxInFlight, _maxInFlight);
        _logger = logger;
        _queue = new FrameQueue(budget);
    }

    public long UserId { get; }
    public string Username { get; }
    public long TokenId { get; }

    /// <summary>When the token this socket was opened with expires (Unix seconds); <see cref="ConnectionSweeper"/> closes it then.</summary>
    public long TokenExpiresAt { get; init; } = long.MaxValue;
    public bool IsClosing => Volatile.Read(ref _closeStatus) != 0;

    /// <summary>Why the socket closed (<see cref="SocketCloseReason.Dropped"/> until it does).</summary>
    public SocketCloseReason CloseReason => _closeCause;

    /// <summary>
    /// The close code of the closed socket: the one the server sent, or for <see cref="SocketCloseReason.Client"/> the
    /// client's (1005 when its close frame had none); 1006 for a connection that ended without one.
    /// </summary>
    public int CloseCode => _closeCause switch
    {
        SocketCloseReason.Client => (int?)_socket.CloseStatus ?? 1005,
        SocketCloseReason.Dropped => 1006,
        _ => Volatile.Read(ref _closeStatus),
    };

    /// <summary>False once the server is shutting this socket down: new sends are no longer taken.</summary>
    public bool AcceptingSends => _acceptingSends && !IsClosing;

    /// <summary>Frames queued and not yet taken by the socket.</summary>
    public int QueuedFrames => _queue.Count;

    /// <summary>Bytes queued and not yet taken by the socket.</summary>
    public long QueuedBytes => _queue.Bytes;

    // Frames held behind a sync replay count too: they wait for this client as much as the queued ones.
    private bool PastHalfBound => _queue.Count + _queue.HeldCount >= _queueLimit / 2 || _queue.Bytes + _queue.HeldBytes >= _queueBytes / 2;
    private bool QueuePastHalfBound => _queue.Count >= _queueLimit / 2 || _queue.Bytes >= _queueBytes / 2;

    /// <summary>
    /// Queues a frame without waiting. Returns false when it was not queued: the socket is closing, the frame is
    /// ephemeral and the queue is past half its bound (typing and presence are shed first), or this frame made the
    /// socket count as too slow (it is then closed with 1008; see the class remarks).
    /// </summary>
    public bool Send(OutboundFrame frame)
    {
        if (IsClosing) return false;
        // Past half the bound, shed what the client can live without; stored messages are never shed.
        if (frame.Ephemeral && PastHalfBound) return false;
        if (!_queue.TryWrite(frame)) return false;
        return !CloseIfTooSlow();
    }

    /// <summary>
    /// Closes the socket with 1008 when it counts as too slow (see the class remarks); called on every enqueue and
    /// once a second by <see cref="ConnectionSweeper"/>, so a socket that gets no more frames is judged too.
    /// </summary>
    /// <returns>True when the socket is (now) closing as too slow.</returns>
    public bool CloseIfTooSlow()
    {
        if (IsClosing) return false;
        // One snapshot for the judgement and the log line: the writer keeps taking frames meanwhile, so the queue read
        // again later may already be empty.
        var queuedFrames = _queue.Count + _queue.HeldCount;
        var queuedBytes = _queue.Bytes + _queue.HeldBytes;
        if (!(queuedFrames > _queueLimit || queuedBytes > _queueBytes))
        {
            if (Volatile.Read(ref _pastBoundSince) != 0) lock (_slowCheck) _pastBoundSince = 0;
            return false;
        }
        string reason;
        lock (_slowCheck)
        {
            var now = _clock.GetTimestamp();
            var framesTaken = Volatile.Read(ref _framesTaken);
            var bytesTaken = Volatile.Read(ref _bytesTaken);
            if (_pastBoundSince == 0) StartWindow(now, framesTaken, bytesTaken);
            if (_budget is { IsExceeded: true })
                reason = "it is past its bound while the server's outbound budget is spent";
            else if (_clock.GetElapsedTime(_pastBoundSince, now) < _slowConsumerTimeout)
                return false;
            else if (framesTaken - _framesTakenAtWindow >= _queueLimit || bytesTaken - _bytesTakenAtWindow >= _queueBytes)
            {
                // Behind, but reading: it took a whole bound's worth in the window. Judge it again over the next one.
                StartWindow(now, framesTaken, bytesTaken);
                return false;
            }
            else
                reason = "past its bound, it took less than one bound's worth in the slow-consumer timeout";
        }
        Log.SlowConsumerClosed(_logger, Username, queuedFrames, queuedBytes, reason);
        Close(CloseCodes.PolicyViolation, "too slow to read", drain: false, SocketCloseReason.Slow);
        return true;
    }

    private void StartWindow(long now, long framesTaken, long bytesTaken)
    {
        _pastBoundSince = now;
        _framesTakenAtWindow = framesTaken;
        _bytesTakenAtWindow = bytesTaken;
    }

    /// <summary>
    /// Queues a reply to this socket's own request (a sync replay), ahead of live frames held by
    /// <see cref="BeginCatchUp"/>, waiting while the queue is past half its bound so a large replay neither starves
    /// live frames nor makes the socket count as too slow.
    /// </summary>
    public async ValueTask<bool> SendReplyAsync(OutboundFrame frame, CancellationToken ct)
    {
        while (!IsClosing && QueuePastHalfBound)
        {
            // Woken by the writer loop once the client has taken enough (or by a close); checked again after the
            // waiter is published, so a wake-up between the check and the publish is not missed.
            var room = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _roomForReply, room)?.TrySetResult();
            if (IsClosing || !QueuePastHalfBound) break;
            await room.Task.WaitAsync(ct);
        }
        if (IsClosing || !_queue.TryWriteReply(frame)) return false;
        return !CloseIfTooSlow();
    }

    /// <summary>
    /// A <c>sync</c> starts: from now until <see cref="EndCatchUp"/> says there is no more, live frames (and those not
    /// yet written) wait behind the replay, so each conversation's frames stay in ascending order on this socket
    /// (contract, "Delivery guarantees").
    /// </summary>
    public void BeginCatchUp()
    {
        Volatile.Write(ref _catchUpPagedAt, 0);
        _queue.Hold();
    }

    /// <summary>
    /// A sync page was queued, ending at <paramref name="lastReplayed"/>. Without more, the held frames follow (less
    /// those the replay covered). With more, they keep waiting for the client's next <c>sync</c>, which it sends at
    /// once; if it does not within <see cref="ChatOptions.SlowConsumerTimeout"/> (at least a second),
    /// <see cref="ReleaseExpiredCatchUp"/> lets them go.
    /// </summary>
    public void EndCatchUp(long lastReplayed, bool hasMore)
    {
        Volatile.Write(ref _catchUpCoveredUpTo, lastReplayed);
        if (!hasMore)
        {
            _queue.Release(lastReplayed);
            return;
        }
        Volatile.Write(ref _catchUpPagedAt, _clock.GetTimestamp());
    }

    /// <summary>Releases held frames when the client stopped paging (called once a second by <see cref="ConnectionSweeper"/>).</summary>
    public void ReleaseExpiredCatchUp()
    {
        var pagedAt = Volatile.Read(ref _catchUpPagedAt);
        var grace = _slowConsumerTimeout < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : _slowConsumerTimeout;
        if (pagedAt == 0 || _clock.GetElapsedTime(pagedAt) < grace) return;
        Volatile.Write(ref _catchUpPagedAt, 0);
        _queue.Release(Volatile.Read(ref _catchUpCoveredUpTo));
    }

    /// <summary>
    /// Starts closing. With <paramref name="drain"/> the frames already queued go out first. <paramref name="cause"/> is
    /// what the metrics and the <c>SocketClosed</c> log event report; only the first close counts.
    /// </summary>
    public void Close(int status, string reason, bool drain, SocketCloseReason cause = SocketCloseReason.Error)
    {
        if (Interlocked.CompareExchange(ref _closeStatus, status, 0) != 0) return;
        _closeCause = cause;
        _closeReason = reason;
        if (!drain) _discardQueue = true;
        _queue.Complete();
        // Not drained: what waits is dropped now, not when the writer wakes (it may be stuck on a peer that never reads).
        if (!drain) _queue.Clear();
        _closeRequested.TrySetResult();
        Interlocked.Exchange(ref _roomForReply, null)?.TrySetResult();
    }

    /// <summary>Graceful shutdown: stop taking sends, let those in flight be acknowledged, then close after the queue drains.</summary>
    public async Task CloseGracefullyAsync(int status, string reason, TimeSpan timeout, SocketCloseReason cause = SocketCloseReason.Shutdown)
    {
        _acceptingSends = false;
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Published before the count is read, and EndSend reads it after releasing: one of the two sees the other.
        Interlocked.Exchange(ref _sendsDrained, drained);
        if (_inFlight.CurrentCount == _maxInFlight) drained.TrySetResult();
        try { await drained.Task.WaitAsync(timeout, _clock); }
        catch (TimeoutException) { /* close anyway: what is still in flight is committed, and its client_msg_id finds it */ }
        Close(status, reason, drain: true, cause);
    }

    /// <summary>Waits for room to start one more concurrent send; the receive loop stops reading meanwhile (backpressure).</summary>
    public Task BeginSendAsync(CancellationToken ct) => _inFlight.WaitAsync(ct);

    public void EndSend()
    {
        _inFlight.Release();
        if (_inFlight.CurrentCount == _maxInFlight) Volatile.Read(ref _sendsDrained)?.TrySetResult();
    }

    /// <summary>Runs both loops until the socket is closed; <paramref name="preamble"/> frames go out before anything queued.</summary>
    public async Task RunAsync(Task<IReadOnlyList<OutboundFrame>> preamble, Func<ChatConnection, ReadOnlyMemory<byte>, ValueTask> onFrame, CancellationToken aborted)
    {
        var writer = WriteLoopAsync(preamble);
        // Not kept for the socket's lifetime: an idle socket should hold nothing it no longer needs.
        preamble = null!;
        var reader = ReceiveLoopAsync(onFrame, aborted);
        // A close requested from outside (queue overflow, logout, token expiry, shutdown) counts as an end too:
        // a peer that neither reads nor sends would otherwise keep both loops (and the socket) forever.
        var first = await Task.WhenAny(reader, writer, _closeRequested.Task);
        if (first == reader)
        {
            // The peer closed (or the read failed): nothing more to send; answer its close.
            if (await reader) Close(1000, "", drain: false, SocketCloseReason.Client);
            else if (_receiveRefused) Close(CloseCodes.InvalidPayload, "invalid UTF-8", drain: false, SocketCloseReason.Protocol);
            else Close(1000, "", drain: false, SocketCloseReason.Dropped);
        }
        // What is left gets the close timeout, then the socket is aborted (SignalR does the same).
        var both = Task.WhenAll(reader, writer);
        try { await both.WaitAsync(_closeTimeout, _clock); }
        catch (TimeoutException) { _socket.Abort(); }
        catch { /* both loops log their own faults */ }
        try { await both; } catch { /* as above */ }

        // A receive the framework refused itself (over Kestrel: a text message that is not UTF-8) has sent its
        // close frame (1007) and aborted the socket. Returning now lets the host tear the connection down before
        // that frame reaches the peer, which then sees a reset instead of 1007: give the peer the close timeout
        // to read it and hang up.
        if (_receiveRefused && !aborted.IsCancellationRequested)
        {
            try { await Task.Delay(_closeTimeout, _clock, aborted); }
            catch (OperationCanceledException) { /* the peer hung up */ }
        }
    }

    private async Task WriteLoopAsync(Task<IReadOnlyList<OutboundFrame>> preamble)
    {
        var cause = SocketCloseReason.Error; // a preamble that fails (database down) is the server's fault; a write that fails is not
        try
        {
            var first = await preamble;
            preamble = null!;
            cause = SocketCloseReason.Dropped;
            foreach (var frame in first)
            {
                await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, true, CancellationToken.None);
                _metrics?.FrameDelivered(frame.Type);
            }
            first = null!;

            while (await _queue.WaitToReadAsync())
            {
                while (!_discardQueue && _queue.TryRead(out var frame))
                {
                    await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, true, CancellationToken.None);
                    _metrics?.FrameDelivered(frame.Type);
                    // The client took it (CloseIfTooSlow judges by these).
                    Volatile.Write(ref _framesTaken, _framesTaken + 1);
                    Volatile.Write(ref _bytesTaken, _bytesTaken + frame.Payload.Length);
                    if (Volatile.Read(ref _roomForReply) is not null && !QueuePastHalfBound)
                        Interlocked.Exchange(ref _roomForReply, null)?.TrySetResult();
                }
                if (_discardQueue) break;
            }

            var status = Volatile.Read(ref _closeStatus);
            if (status != 0 && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(_closeTimeout);
                await _socket.CloseOutputAsync((WebSocketCloseStatus)status, _closeReason, timeout.Token);
            }
        }
        catch (Exception e)
        {
            // Includes a failed preamble (database down): the socket cannot be served, so drop it.
            Log.SendEnded(_logger, e.GetType().Name);
            Close(1000, "", drain: false, cause);
            _socket.Abort();
        }
        finally
        {
            Close(1000, "", drain: false, SocketCloseReason.Dropped);
            _queue.Clear();
        }
    }

    /// <returns>True when the peer sent a close frame; false when the connection ended otherwise.</returns>
    private async Task<bool> ReceiveLoopAsync(Func<ChatConnection, ReadOnlyMemory<byte>, ValueTask> onFrame, CancellationToken aborted)
    {
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                // Idle sockets wait with a zero-byte read, so they hold no receive buffer (as Kestrel and
                // SignalR do); a buffer is rented only once a message starts arriving.
                var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, aborted);
                if (peek.MessageType == WebSocketMessageType.Close) return true;

                buffer = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
                var count = 0;
                var result = peek;
                while (!result.EndOfMessage)
                {
                    if (count == buffer.Length)
                    {
                        // Only reached within the limit (past it, count starts again at 0 below), so the new buffer is
                        // strictly larger: at most one byte past the limit is ever kept.
                        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(buffer.Length * 2L, _maxFrameBytes + 1L));
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), aborted);
                    if (result.MessageType == WebSocketMessageType.Close) return true;
                    count += result.Count;
                    if (count > _maxFrameBytes)
                    {
                        // Past the limit (RFC 6455 section 7.4.1, 1009): close as soon as it is passed; the rest of the
                        // message is read into the same buffer and dropped, so memory stays bounded and a read always has room.
                        Close(CloseCodes.MessageTooBig, "message too big", drain: false, SocketCloseReason.TooBig);
                        count = 0;
                    }
                }

                var message = buffer.AsMemory(0, count);
                if (IsClosing)
                {
                    // We already sent our close (a message past the limit is closed 1009 above, as soon as it passes);
                    // read on only to see the peer's.
                }
                else if (result.MessageType == WebSocketMessageType.Binary)
                {
                    Close(CloseCodes.UnsupportedData, "binary messages are not supported", drain: false, SocketCloseReason.Protocol);
                }
                else if (!Utf8.IsValid(message.Span))
                {
                    Close(CloseCodes.InvalidPayload, "invalid UTF-8", drain: false, SocketCloseReason.Protocol);
                }
                else
                {
                    await onFrame(this, message);
                }
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Not a peer that vanished and not our own abort: the framework refused what the peer sent.
            _receiveRefused = e is WebSocketException { WebSocketErrorCode: not WebSocketError.ConnectionClosedPrematurely }
                && !IsClosing && !aborted.IsCancellationRequested;
            Log.ReceiveEnded(_logger, e.GetType().Name);
            return false;
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = ChatEventIds.SlowConsumerClosed, EventName = "SlowConsumerClosed", Level = LogLevel.Warning,
            Message = "Closing a socket of {Username} as too slow ({Frames} frames, {Bytes} bytes queued): {Reason}")]
        public static partial void SlowConsumerClosed(ILogger logger, string username, int frames, long bytes, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Send loop ended: {Reason}")]
        public static partial void SendEnded(ILogger logger, string reason);

        [LoggerMessage(Level = LogLevel.Debug, Message = "Receive loop ended: {Reason}")]
        public static partial void ReceiveEnded(ILogger logger, string reason);
    }
}
