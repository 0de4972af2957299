using System.Threading.Channels;
using Chat.Server.Realtime;
using Chat.Server.Storage;

namespace Chat.Server.Cluster;

/// <summary>
/// Releases the message stream to this node's sockets in stream position order, whichever node committed it, and fills
/// what the backplane lost from the database (contract section 5). Batches come from this node's publisher
/// (<see cref="Local"/>) and from the bus (<see cref="Remote"/>). Every write transaction of every node moves the
/// position from its <see cref="StreamBatch.PositionBefore"/> to its <see cref="StreamBatch.PositionAfter"/>
/// (<see cref="CommittedBatch"/>), so the batches form one chain: a batch is released when the chain reaches it, and
/// frames of one conversation leave in ascending <c>message_id</c> on every socket.
/// </summary>
/// <remarks>
/// <para>A gap (a batch waits for one that has not arrived) is filled from the database after <see cref="GapTimeout"/>,
/// at once while Redis is known to be unreachable: the messages in the missing range are read in id order and turned into
/// the same frames (<see cref="StreamBatch.AddMessage"/>). A batch that arrives later for a filled range is released
/// without its stored-message frames, so each frame reaches a socket once.</para>
/// <para>A lost batch with nothing after it would leave no gap to see, so the position is also read from the database
/// every <see cref="PositionCheckInterval"/> and at once when Redis comes back; a position past the released one is a gap
/// like any other. So every socket gets what it missed within about a second and a half of Redis coming back, without
/// asking.</para>
/// <para>One loop owns the state; nothing here locks.</para>
/// </remarks>
public sealed partial class StreamSequencer(
    ConnectionRegistry registry,
    IMessageStore store,
    PostgresDatabase database,
    StreamPosition startPosition,
    TimeProvider clock,
    Observability.ChatMetrics metrics,
    ILogger<StreamSequencer> logger) : BackgroundService
{
    /// <summary>How long a gap may wait for its batch to arrive over the backplane before it is filled from the database: 500 ms.</summary>
    public static readonly TimeSpan GapTimeout = TimeSpan.FromMilliseconds(500);

    /// <summary>How often the database's stream position is compared with what was released: 1 second.</summary>
    public static readonly TimeSpan PositionCheckInterval = TimeSpan.FromSeconds(1);

    /// <summary>Messages read per query when filling a gap: 1000.</summary>
    public const int FillPage = 1000;

    private readonly Channel<StreamBatch> _inbox = Channel.CreateUnbounded<StreamBatch>(new UnboundedChannelOptions { SingleReader = true });
    private readonly PriorityQueue<StreamBatch, (long, long)> _pending = new();
    private long _arrivals;
    private long _released = -1;
    private long _gapSince = -1;
    private volatile bool _backplaneDown;
    private int _checkRequested;

    /// <summary>The stream position up to which this node released the stream (-1 before start).</summary>
    public long Released => Volatile.Read(ref _released);

    /// <summary>A batch this node committed (its replies go to this node's sockets only).</summary>
    public void Local(StreamBatch batch) => _inbox.Writer.TryWrite(batch);

    /// <summary>A batch another node committed, from the bus.</summary>
    public void Remote(StreamBatch batch)
    {
        metrics.BackplaneReceived();
        _inbox.Writer.TryWrite(batch);
    }

    /// <summary>Redis became unreachable: gaps are filled at once, without waiting for the bus.</summary>
    public void BackplaneLost() => _backplaneDown = true;

    /// <summary>Redis is back: read the database's position now (whatever the bus dropped meanwhile is filled).</summary>
    public void BackplaneRestored()
    {
        _backplaneDown = false;
        RequestPositionCheck();
    }

    /// <summary>Compares the database's stream position with the released one at the next turn of the loop.</summary>
    public void RequestPositionCheck()
    {
        Interlocked.Exchange(ref _checkRequested, 1);
        // An empty batch at position 0 wakes the loop and is released as nothing.
        _inbox.Writer.TryWrite(new StreamBatch(0, 0));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Volatile.Write(ref _released, startPosition.Current);
        var nextCheck = clock.GetTimestamp();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var wait = TimeUntil(nextCheck);
                if (_gapSince >= 0 && !_backplaneDown) wait = Min(wait, GapTimeout - clock.GetElapsedTime(_gapSince));
                if (wait > TimeSpan.Zero && !_inbox.Reader.TryPeek(out _))
                {
                    using var timer = new CancellationTokenSource(wait, clock);
                    using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, timer.Token);
                    try { await _inbox.Reader.WaitToReadAsync(timeout.Token); }
                    catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
                }
                while (_inbox.Reader.TryRead(out var batch)) _pending.Enqueue(batch, (batch.PositionBefore, _arrivals++));

                if (Interlocked.Exchange(ref _checkRequested, 0) == 1 || clock.GetTimestamp() >= nextCheck)
                {
                    nextCheck = clock.GetTimestamp() + (long)(PositionCheckInterval.TotalSeconds * clock.TimestampFrequency);
                    var position = await database.ReadStreamPositionAsync(stoppingToken);
                    // A marker: the chain must reach the database's position; a gap up to it is filled like any other.
                    if (position > _released) _pending.Enqueue(new StreamBatch(position, position), (position, _arrivals++));
                }

                ReleaseReady();
                if (_pending.TryPeek(out var head, out _) && head.PositionBefore > _released)
                {
                    if (_gapSince < 0) _gapSince = clock.GetTimestamp();
                    if (_backplaneDown || clock.GetElapsedTime(_gapSince) >= GapTimeout)
                    {
                        await FillAsync(head.PositionBefore, stoppingToken);
                        ReleaseReady();
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // The database is unreachable: the gap stays and is tried again at the next check.
                LogFillFailed(logger, e);
                try { await Task.Delay(GapTimeout, clock, stoppingToken); } catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Releases every pending batch the chain has reached.</summary>
    private void ReleaseReady()
    {
        while (_pending.TryPeek(out var batch, out _) && batch.PositionBefore <= _released)
        {
            _pending.Dequeue();
            batch.DeliverLocally(registry, skipUpTo: _released);
            if (batch.PositionAfter > _released) Volatile.Write(ref _released, batch.PositionAfter);
        }
        if (!_pending.TryPeek(out var next, out _) || next.PositionBefore <= _released) _gapSince = -1;
    }

    /// <summary>Reads the messages in (released, <paramref name="upTo"/>] from the database and releases their frames in id order.</summary>
    private async Task FillAsync(long upTo, CancellationToken ct)
    {
        var from = _released;
        while (_released < upTo)
        {
            var messages = await store.StreamRangeAsync(_released, upTo, FillPage, ct);
            var fill = new StreamBatch(_released, messages.Count < FillPage ? upTo : messages[^1].Id);
            foreach (var message in messages) fill.AddMessage(message);
            fill.DeliverLocally(registry, skipUpTo: _released);
            Volatile.Write(ref _released, fill.PositionAfter);
        }
        _gapSince = -1;
        if (from < upTo) metrics.BackplaneGapFilled();
        LogFilled(logger, from, upTo);
    }

    private TimeSpan TimeUntil(long timestamp)
    {
        var now = clock.GetTimestamp();
        return timestamp <= now ? TimeSpan.Zero : TimeSpan.FromSeconds((timestamp - now) / (double)clock.TimestampFrequency);
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    [LoggerMessage(Level = LogLevel.Debug, Message = "Filled the message stream from the database after {From} up to {UpTo} (the backplane lost it)")]
    private static partial void LogFilled(ILogger logger, long from, long upTo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Filling a gap in the message stream from the database failed; trying again")]
    private static partial void LogFillFailed(ILogger logger, Exception e);
}
