using System.Threading.Channels;
using Chat.Server.Infrastructure;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Chat.Server.Storage;

/// <summary>
/// Group commit: one loop drains pending writes and commits as many as are waiting (up to
/// <see cref="ChatOptions.MaxCommitBatch"/>) in one transaction, so one fsync covers the batch.
/// Nobody is answered before the transaction holding their write has committed.
/// </summary>
public sealed partial class SqliteMessageWriter : BackgroundService, IMessageWriter
{
    private readonly SqliteDatabase _db;
    private readonly ICommitListener _listener;
    private readonly StreamPosition _position;
    private long _lastCommittedId; // the newest message id committed; written by the commit loop only
    private readonly ILogger<SqliteMessageWriter> _logger;
    private readonly int _maxBatch;
    private readonly Channel<WriteOp> _queue;
    private readonly Channel<WriteOp[]> _committed = Channel.CreateUnbounded<WriteOp[]>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private WriterSession? _session;

    public SqliteMessageWriter(SqliteDatabase db, ICommitListener listener, StreamPosition position, IOptions<ChatOptions> options, ILogger<SqliteMessageWriter> logger)
    {
        _db = db;
        _listener = listener;
        _position = position;
        _logger = logger;
        _maxBatch = options.Value.MaxCommitBatch;
        _queue = Channel.CreateBounded<WriteOp>(new BoundedChannelOptions((int)Math.Min(int.MaxValue, Math.Max(1024, _maxBatch * 8L)))
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    public async Task<SendResult> SendAsync(SendCommand command, CancellationToken ct)
    {
        var op = new SendOp(command);
        await EnqueueAsync(op, ct);
        return await op.Completion.Task;
    }

    public async Task<ReadResult> MarkReadAsync(ReadCommand command, CancellationToken ct)
    {
        var op = new ReadOp(command);
        await EnqueueAsync(op, ct);
        return await op.Completion.Task;
    }

    private async ValueTask EnqueueAsync(WriteOp op, CancellationToken ct)
    {
        if (_queue.Writer.TryWrite(op)) return;
        try
        {
            await _queue.Writer.WriteAsync(op, ct);
        }
        catch (ChannelClosedException)
        {
            // Shutting down: refused, not acknowledged.
            throw new ChatException(503, Chat.Protocol.ErrorCodes.Internal, "The server is shutting down; nothing was stored.");
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        // Drain what was accepted before stopping: everything queued is committed and answered.
        _queue.Writer.TryComplete();
        return base.StopAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        var dispatcher = Task.Run(DispatchLoopAsync, CancellationToken.None);
        // Grows to _maxBatch only if batches do get that large: a huge setting must not allocate up front.
        var batch = new List<WriteOp>(Math.Min(_maxBatch, 1024));
        // Not cancelled by stoppingToken on purpose: the loop ends when StopAsync completes the queue.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var op)) batch.Add(op);
            Commit(batch);
            batch.Clear();
        }
        ResetSession();
        _committed.Writer.TryComplete();
        await dispatcher;
    }

    private void Commit(List<WriteOp> batch)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        try
        {
            _session ??= new WriterSession(_db.Open(), deferSync: _db.DurableAcks);
            _session.Begin();
            foreach (var op in batch) op.Execute(_session, now);
            _session.Commit();
        }
        catch (Exception e)
        {
            _session?.Rollback();
            if (batch.Count == 1 || e is not (ChatException or SqliteException { SqliteErrorCode: 19 /* constraint */ }))
            {
                // The database itself failed (locked, full, gone), or the lone op was refused: fail it all.
                if (e is not ChatException) LogCommitFailed(_logger, e, batch.Count);
                if (e is not ChatException) ResetSession();
                foreach (var op in batch) op.Fail(e is ChatException ? e : ChatException.Internal());
                return;
            }
            // One op was refused (e.g. not a member): redo the batch one op per transaction, so only it fails.
            foreach (var op in batch) Commit([op]);
            return;
        }

        foreach (var op in batch)
            if (op.MessageId > _lastCommittedId) Volatile.Write(ref _lastCommittedId, op.MessageId);
        // Notifications leave on the dispatch loop, in commit order, while this loop commits the next batch.
        _committed.Writer.TryWrite([.. batch]);
    }

    /// <summary>
    /// Makes committed batches durable, then publishes them in commit order and answers their senders.
    /// Kept off the commit loop: the fsync of one group of batches overlaps the next batch's SQL (the
    /// commit itself skips the fsync), and serializing and queueing frames was an eighth of that loop's time.
    /// </summary>
    private async Task DispatchLoopAsync()
    {
        var ready = new List<WriteOp[]>();
        while (await _committed.Reader.WaitToReadAsync())
        {
            while (_committed.Reader.TryRead(out var batch)) ready.Add(batch);
            // One fsync covers every batch committed so far (read before the fsync starts, so it covers them); nobody
            // hears of a write before it is on disk, and no read shows it before the stream position passes it.
            var committedUpTo = Volatile.Read(ref _lastCommittedId);
            Exception? unsynced = null;
            if (_db.DurableAcks)
            {
                try { _db.SyncWal(); }
                catch (Exception e) { unsynced = e; LogSyncFailed(_logger, e); }
            }
            if (unsynced is null) _position.Advance(committedUpTo);
            foreach (var batch in ready)
            {
                foreach (var op in batch)
                {
                    if (unsynced is not null)
                    {
                        // Committed but maybe not on disk: refused, so the client retries; its client_msg_id finds the original.
                        op.Fail(ChatException.Internal());
                        continue;
                    }
                    try
                    {
                        op.Publish(_listener);
                    }
                    catch (Exception e)
                    {
                        // A failure to notify never fails the write: it is committed, and clients recover with sync.
                        LogNotifyFailed(_logger, e);
                    }
                    op.Complete();
                }
            }
            ready.Clear();
        }
    }

    private void ResetSession()
    {
        try { _session?.Dispose(); } catch (Exception) { /* the connection is being thrown away */ }
        _session = null;
    }

    private abstract class WriteOp
    {
        /// <summary>The message id this op committed (or found, for a repeated client_msg_id); 0 for none.</summary>
        public virtual long MessageId => 0;
        public abstract void Execute(WriterSession session, long now);
        public abstract void Publish(ICommitListener listener);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    private sealed class SendOp(SendCommand command) : WriteOp
    {
        private SendResult? _result;
        public TaskCompletionSource<SendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override long MessageId => _result?.Message.Id ?? 0;

        public override void Execute(WriterSession session, long now)
        {
            var message = session.Send(command, now, out var duplicate);
            _result = new SendResult(message, duplicate);
        }

        public override void Publish(ICommitListener listener)
        {
            if (_result is null) return;
            if (!_result.Duplicate) listener.MessageStored(_result.Message);
            command.OnCommitted?.Invoke(_result);
        }

        public override void Complete()
        {
            if (_result is not null) Completion.TrySetResult(_result);
        }

        public override void Fail(Exception e) => Completion.TrySetException(e);
    }

    private sealed class ReadOp(ReadCommand command) : WriteOp
    {
        private ReadResult? _result;
        public TaskCompletionSource<ReadResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Execute(WriterSession session, long now) =>
            _result = session.MarkRead(command) ?? throw ChatException.NotFound("No such conversation.");

        public override void Publish(ICommitListener listener)
        {
            if (_result is not null) listener.ReadMoved(_result);
        }

        public override void Complete()
        {
            if (_result is not null) Completion.TrySetResult(_result);
        }

        public override void Fail(Exception e) => Completion.TrySetException(e);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Commit of a batch of {Count} writes failed; all were refused")]
    private static partial void LogCommitFailed(ILogger logger, Exception e, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "fsync of the WAL failed; the writes it covered were refused")]
    private static partial void LogSyncFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notifying after a commit failed; the write stands")]
    private static partial void LogNotifyFailed(ILogger logger, Exception e);
}
