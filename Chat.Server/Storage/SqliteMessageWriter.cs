using System.Threading.Channels;
using Chat.Server.Infrastructure;
using Dapper;
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
    private readonly ILogger<SqliteMessageWriter> _logger;
    private readonly int _maxBatch;
    private readonly Channel<WriteOp> _queue;
    private SqliteConnection? _connection;

    public SqliteMessageWriter(SqliteDatabase db, ICommitListener listener, IOptions<ChatOptions> options, ILogger<SqliteMessageWriter> logger)
    {
        _db = db;
        _listener = listener;
        _logger = logger;
        _maxBatch = options.Value.MaxCommitBatch;
        _queue = Channel.CreateBounded<WriteOp>(new BoundedChannelOptions(Math.Max(1024, _maxBatch * 8))
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
        var batch = new List<WriteOp>(_maxBatch);
        // Not cancelled by stoppingToken on purpose: the loop ends when StopAsync completes the queue.
        while (await _queue.Reader.WaitToReadAsync(CancellationToken.None))
        {
            while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var op)) batch.Add(op);
            Commit(batch);
            batch.Clear();
        }
        _connection?.Dispose();
    }

    private void Commit(List<WriteOp> batch)
    {
        try
        {
            _connection ??= _db.Open();
            using var tx = _connection.BeginTransaction();
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            foreach (var op in batch)
            {
                _connection.Execute("SAVEPOINT op", transaction: tx);
                try
                {
                    op.Execute(this, _connection, tx, now);
                    _connection.Execute("RELEASE op", transaction: tx);
                }
                catch (Exception e)
                {
                    _connection.Execute("ROLLBACK TO op; RELEASE op", transaction: tx);
                    op.Fail(e is ChatException ? e : Failed(e));
                }
            }
            tx.Commit();
        }
        catch (Exception e)
        {
            LogCommitFailed(_logger, e, batch.Count);
            // The connection may be in any state; start clean next time.
            _connection?.Dispose();
            _connection = null;
            foreach (var op in batch) op.Fail(ChatException.Internal());
            return;
        }

        foreach (var op in batch)
        {
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

    private Exception Failed(Exception e)
    {
        LogOpFailed(_logger, e);
        return ChatException.Internal();
    }

    private StoredMessage ExecuteSend(SendCommand c, SqliteConnection cn, SqliteTransaction tx, long now, out bool duplicate)
    {
        if (c.ClientMsgId is not null)
        {
            var existing = cn.QuerySingleOrDefault<ExistingMessage>(
                "SELECT id, conversation_id, receiver_id, body, created_at, is_new_conversation FROM messages WHERE sender_id = @sender AND client_msg_id = @clientMsgId",
                new { sender = c.Sender.Id, clientMsgId = c.ClientMsgId }, tx);
            if (existing is not null)
            {
                duplicate = true;
                var receiver = existing.ReceiverId == c.Receiver.Id
                    ? c.Receiver
                    : cn.QuerySingle<UserRow>("SELECT id, username, full_name, email, avatar_version FROM users WHERE id = @id", new { id = existing.ReceiverId }, tx);
                return new StoredMessage(existing.Id, existing.ConversationId, c.Sender, receiver, existing.Body, existing.CreatedAt, existing.IsNewConversation != 0);
            }
        }

        duplicate = false;
        var (a, b) = c.Sender.Id < c.Receiver.Id ? (c.Sender.Id, c.Receiver.Id) : (c.Receiver.Id, c.Sender.Id);
        var conversationId = cn.ExecuteScalar<long?>("SELECT id FROM conversations WHERE user_a = @a AND user_b = @b", new { a, b }, tx);
        var isNew = conversationId is null;
        if (isNew)
        {
            conversationId = cn.ExecuteScalar<long>("INSERT INTO conversations (user_a, user_b, created_at) VALUES (@a, @b, @now) RETURNING id", new { a, b, now }, tx);
            cn.Execute(
                """
                INSERT INTO conversation_members (user_id, conversation_id, other_user_id) VALUES (@a, @id, @b);
                INSERT INTO conversation_members (user_id, conversation_id, other_user_id) VALUES (@b, @id, @a);
                """, new { a, b, id = conversationId }, tx);
        }
        var messageId = cn.ExecuteScalar<long>(
            """
            INSERT INTO messages (conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation, client_msg_id)
            VALUES (@conversationId, @sender, @receiver, @body, @now, @isNew, @clientMsgId)
            RETURNING id
            """,
            new { conversationId, sender = c.Sender.Id, receiver = c.Receiver.Id, body = c.Body, now, isNew = isNew ? 1 : 0, clientMsgId = c.ClientMsgId }, tx);
        cn.Execute(
            """
            UPDATE conversation_members
            SET last_message_id = @messageId,
                unread_count = unread_count + CASE WHEN user_id = @receiver THEN 1 ELSE 0 END
            WHERE conversation_id = @conversationId
            """, new { messageId, receiver = c.Receiver.Id, conversationId }, tx);
        return new StoredMessage(messageId, conversationId!.Value, c.Sender, c.Receiver, c.Body, now, isNew);
    }

    private static ReadResult ExecuteRead(ReadCommand c, SqliteConnection cn, SqliteTransaction tx)
    {
        var member = cn.QuerySingleOrDefault<MemberState>(
            "SELECT other_user_id, last_message_id, read_up_to FROM conversation_members WHERE user_id = @user AND conversation_id = @conversationId",
            new { user = c.Reader.Id, conversationId = c.ConversationId }, tx)
            ?? throw ChatException.NotFound("No such conversation.");
        // Never past the newest message, never backwards.
        var target = Math.Min(c.UpToMessageId ?? member.LastMessageId, member.LastMessageId);
        var upTo = Math.Max(member.ReadUpTo, target);
        var unread = cn.ExecuteScalar<long>(
            "SELECT COUNT(*) FROM messages WHERE conversation_id = @conversationId AND receiver_id = @user AND id > @upTo",
            new { conversationId = c.ConversationId, user = c.Reader.Id, upTo }, tx);
        cn.Execute("UPDATE conversation_members SET read_up_to = @upTo, unread_count = @unread WHERE user_id = @user AND conversation_id = @conversationId",
            new { upTo, unread, user = c.Reader.Id, conversationId = c.ConversationId }, tx);
        return new ReadResult(c.ConversationId, c.Reader, member.OtherUserId, upTo, unread);
    }

    private abstract class WriteOp
    {
        public abstract void Execute(SqliteMessageWriter writer, SqliteConnection cn, SqliteTransaction tx, long now);
        public abstract void Publish(ICommitListener listener);
        public abstract void Complete();
        public abstract void Fail(Exception e);
    }

    private sealed class SendOp(SendCommand command) : WriteOp
    {
        private SendResult? _result;
        public TaskCompletionSource<SendResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Execute(SqliteMessageWriter writer, SqliteConnection cn, SqliteTransaction tx, long now)
        {
            var message = writer.ExecuteSend(command, cn, tx, now, out var duplicate);
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

        public override void Execute(SqliteMessageWriter writer, SqliteConnection cn, SqliteTransaction tx, long now) =>
            _result = ExecuteRead(command, cn, tx);

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

    private sealed class ExistingMessage
    {
        public long Id { get; set; }
        public long ConversationId { get; set; }
        public long ReceiverId { get; set; }
        public string Body { get; set; } = "";
        public long CreatedAt { get; set; }
        public long IsNewConversation { get; set; }
    }

    private sealed class MemberState
    {
        public long OtherUserId { get; set; }
        public long LastMessageId { get; set; }
        public long ReadUpTo { get; set; }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Commit of a batch of {Count} writes failed; all were refused")]
    private static partial void LogCommitFailed(ILogger logger, Exception e, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "A write failed inside its batch and was refused")]
    private static partial void LogOpFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Notifying after a commit failed; the write stands")]
    private static partial void LogNotifyFailed(ILogger logger, Exception e);
}
