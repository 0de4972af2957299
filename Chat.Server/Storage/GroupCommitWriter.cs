using System.Threading.Channels;
using Chat.Server.Infrastructure;
using Chat.Server.Observability;
using Microsoft.Extensions.Options;

namespace Chat.Server.Storage;

/// <summary>
/// The store's write side, for any engine. Group commit: one loop drains queued writes and commits as many as are
/// waiting (up to <see cref="ChatOptions.MaxCommitBatch"/>) in one transaction; a second loop makes them durable
/// (<see cref="MakeDurable"/>: one fsync for every batch committed before it started, while the next batch's SQL runs)
/// and then hands them on through <see cref="Committed"/>. Nothing leaves before it is durable; nothing is published or
/// answered here except refusals. A batch in which one write is refused (not a member, a constraint) is rolled back
/// and redone one write per transaction, so only that write fails and nothing rolled back is ever acknowledged.
/// </summary>
public abstract partial class GroupCommitWriter : BackgroundService, IMessageWriter
{
    private readonly TimeProvider _clock;
    private readonly ChatMetrics _metrics;
    private long _lastCommittedId; // the newest message id committed; written by the commit loop only
    private readonly ILogger _logger;
    private readonly int _maxBatch;
    private readonly Channel<WriteRequest> _queue;
    private readonly Channel<CommittedTransaction> _unsynced = Channel.CreateUnbounded<CommittedTransaction>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Channel<CommittedBatch> _committed = Channel.CreateUnbounded<CommittedBatch>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private IWriteSession? _session;

    protected GroupCommitWriter(TimeProvider clock, IOptions<ChatOptions> options, ChatMetrics metrics, ILogger logger)
    {
        _clock = clock;
        _metrics = metrics;
        _logger = logger;
        _maxBatch = options.Value.MaxCommitBatch;
        _queue = Channel.CreateBounded<WriteRequest>(new BoundedChannelOptions((int)Math.Min(int.MaxValue, Math.Max(1024, _maxBatch * 8L)))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Opens the commit loop's own connection with its statements ready.</summary>
    protected abstract IWriteSession OpenSession();

    /// <summary>
    /// Makes every transaction committed so far durable; throws when it could not (the batches it covered are then
    /// refused). A no-op where a commit is durable when it returns (PostgreSQL, SQLite with <c>synchronous=NORMAL</c>).
    /// </summary>
    /// <returns>True when it did something (an fsync), which <c>chat.commit.fsync.duration</c> then records.</returns>
    protected abstract bool MakeDurable();

    /// <summary>True when <paramref name="e"/> refuses one write of a batch (a constraint) rather than failing the database.</summary>
    protected abstract bool IsRefusal(Exception e);

    public ChannelReader<CommittedBatch> Committed => _committed.Reader;

    public async ValueTask EnqueueAsync(WriteRequest request, CancellationToken ct)
    {
        if (Failed) throw StorageFailed();
        if (_queue.Writer.TryWrite(request)) return;
        try
        {
            await _queue.Writer.WriteAsync(request, ct);
        }
        catch (ChannelClosedException)
        {
            // Shutting down: refused, not acknowledged.
            throw new ChatException(503, Chat.Protocol.ErrorCodes.Internal, "The server is shutting down; nothing was stored.");
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // Drain what was accepted before stopping: everything queued is committed and handed on.
        _queue.Writer.TryComplete();
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var syncLoop = Task.Run(SyncLoopAsync, CancellationToken.None);
        // Grows to _maxBatch only if batches do get that large: a huge setting must not allocate up front.
        var batch = new List<WriteRequest>(Math.Min(_maxBatch, 1024));
        // Not cancelled by stoppingToken on purpose: the loop ends when StopAsync completes the queue.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var request)) batch.Add(request);
            Commit(batch);
            batch.Clear();
        }
        ResetSession();
        _unsynced.Writer.TryComplete();
        await syncLoop;
    }

    private void Commit(List<WriteRequest> batch)
    {
        if (Failed)
        {
            foreach (var request in batch) request.Fail(StorageFailed());
            return;
        }
        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        long newest = 0;
        long before;
        var started = _clock.GetTimestamp();
        try
        {
            _session ??= OpenSession();
            before = _session.Begin() ?? Volatile.Read(ref _lastCommittedId);
            _session.ExecuteAll(batch, now);
            foreach (var request in batch) newest = Math.Max(newest, request.MessageId);
            _session.Commit(newest);
        }
        catch (Exception e)
        {
            try { _session?.Rollback(); } catch (Exception) { ResetSession(); }
            if (batch.Count == 1 || !(e is ChatException || IsRefusal(e)))
            {
                // The database itself failed (locked, full, gone), or the lone write was refused: refuse it all.
                if (e is not ChatException) LogCommitFailed(_logger, e, batch.Count);
                if (e is not ChatException) ResetSession();
                foreach (var request in batch) request.Fail(e is ChatException ? e : ChatException.Internal());
                return;
            }
            // One write was refused (e.g. not a member): redo the batch one write per transaction, so only it fails.
            foreach (var request in batch) Commit([request]);
            return;
        }

        _metrics.Committed(batch.Count, _clock.GetElapsedTime(started));
        if (newest > _lastCommittedId) Volatile.Write(ref _lastCommittedId, newest);
        _unsynced.Writer.TryWrite(new CommittedTransaction([.. batch], before, Math.Max(before, newest)));
    }

    /// <summary>One committed transaction waiting to be made durable, with the stream position around it.</summary>
    private sealed record CommittedTransaction(WriteRequest[] Requests, long Before, long After);

    /// <summary>
    /// Makes committed batches durable, then hands them on in commit order. Kept off the commit loop: the fsync of one
    /// group of batches overlaps the next batch's SQL.
    /// </summary>
    private async Task SyncLoopAsync()
    {
        var ready = new List<CommittedTransaction>();
        while (await _unsynced.Reader.WaitToReadAsync())
        {
            while (_unsynced.Reader.TryRead(out var batch)) ready.Add(batch);
            // One fsync covers every batch committed so far (read before the fsync starts, so it covers them).
            var committedUpTo = Volatile.Read(ref _lastCommittedId);
            var durable = !Failed && await TryMakeDurableAsync();
            foreach (var batch in ready)
            {
                if (durable)
                {
                    _committed.Writer.TryWrite(new CommittedBatch(batch.Requests, committedUpTo, batch.Before, batch.After));
                    continue;
                }
                // Committed but not known to be on disk, and the writer has stopped: refused. Nothing after it is
                // acknowledged or published, so no client sees an id a restart could give to another message; after the
                // restart (which makes the WAL durable) the client's retry with its client_msg_id finds the original.
                foreach (var request in batch.Requests) request.Fail(StorageFailed());
            }
            ready.Clear();
        }
        _committed.Writer.TryComplete();
    }

    /// <summary>
    /// True once the store could not make committed writes durable (a failing disk): from then on every write is refused
    /// and the health check reports the database unhealthy, until the server is restarted (fail-stop, as PostgreSQL
    /// does on a failed fsync: a later fsync that succeeds does not prove the earlier pages reached the disk).
    /// </summary>
    public bool Failed => Volatile.Read(ref _failed);

    private bool _failed;

    private static ChatException StorageFailed() =>
        new(500, Chat.Protocol.ErrorCodes.Internal, "The store could not make the message durable and stopped taking writes; it may have been stored: after the server is back, retry with the same client_msg_id.");

    /// <summary>
    /// <see cref="MakeDurable"/>, tried again twice after a pause (20 and 200 ms) for a transient failure. When it
    /// still fails, the writer stops (<see cref="Failed"/>).
    /// </summary>
    private async Task<bool> TryMakeDurableAsync()
    {
        foreach (var pause in RetryPauses)
        {
            try
            {
                var started = _clock.GetTimestamp();
                if (MakeDurable()) _metrics.MadeDurable(_clock.GetElapsedTime(started));
                return true;
            }
            catch (Exception e)
            {
                LogSyncFailed(_logger, e);
            }
            if (pause is { } wait) await Task.Delay(wait, _clock);
        }
        Volatile.Write(ref _failed, true);
        LogWriterStopped(_logger);
        return false;
    }

    private static readonly TimeSpan?[] RetryPauses = [TimeSpan.FromMilliseconds(20), TimeSpan.FromMilliseconds(200), null];

    private void ResetSession()
    {
        try { _session?.Dispose(); } catch (Exception) { /* the connection is being thrown away */ }
        _session = null;
    }

    [LoggerMessage(EventId = Observability.ChatEventIds.CommitFailed, EventName = "CommitFailed", Level = LogLevel.Error, Message = "Commit of a batch of {Count} writes failed; all were refused")]
    private static partial void LogCommitFailed(ILogger logger, Exception e, int count);

    [LoggerMessage(EventId = Observability.ChatEventIds.DurabilityFailed, EventName = "DurabilityFailed", Level = LogLevel.Error, Message = "Making committed writes durable failed")]
    private static partial void LogSyncFailed(ILogger logger, Exception e);

    [LoggerMessage(EventId = Observability.ChatEventIds.StoreStopped, EventName = "StoreStopped", Level = LogLevel.Critical, Message = "The store could not make committed writes durable and stopped taking writes; restart the server once the disk is fixed")]
    private static partial void LogWriterStopped(ILogger logger);
}
