using System.Data.Common;
using Npgsql;

namespace Chat.Server.Storage;

/// <summary>
/// The writer's session on PostgreSQL. Every write transaction first locks the one <c>stream_position</c> row and, before
/// it commits, moves it to the newest id it inserted. The lock is held until commit, so write transactions of every node
/// run one after the other: ids (drawn from the sequence inside the lock) commit in ascending order, a reader never sees
/// an id while a smaller one can still appear, and the row holds the persisted-up-to position across writers. It also
/// makes find-or-create of a conversation and read-cursor moves race-free across nodes. Measured in
/// <c>docs/benchmarks.md</c>: one node's writer already commits one batch at a time, so the lock costs a statement.
/// </summary>
internal sealed class PostgresWriterSession : WriterSession
{
    private readonly NpgsqlConnection _connection;
    private NpgsqlTransaction? _transaction;
    private readonly DbCommand _lock;
    private readonly DbCommand _advance;

    public PostgresWriterSession(NpgsqlConnection connection) : base(connection)
    {
        _connection = connection;
        _lock = Command("SELECT position FROM stream_position FOR UPDATE");
        _advance = Command("UPDATE stream_position SET position = @newest WHERE position < @newest", "@newest");
    }

    protected override void OnBegin(DbTransaction transaction)
    {
        _transaction = (NpgsqlTransaction)transaction;
        _lock.Transaction = transaction;
        _lock.ExecuteScalar();
    }

    protected override void OnCommit(DbTransaction transaction, long newestMessageId)
    {
        if (newestMessageId == 0) return;
        _advance.Transaction = transaction;
        _advance.Parameters[0].Value = newestMessageId;
        _advance.ExecuteNonQuery();
    }

    /// <summary>
    /// Sends each run of messages to known conversations (the common case) as one <see cref="NpgsqlBatch"/>: one
    /// statement per message (insert and member rows together), one round trip for the run. Other writes (a new
    /// conversation, a read-cursor move) run one by one, in order. A repeated <c>client_msg_id</c> (the insert returns no
    /// row) is answered with its original afterwards, in the same transaction.
    /// </summary>
    public override void ExecuteAll(IReadOnlyList<WriteRequest> batch, long now)
    {
        var i = 0;
        while (i < batch.Count)
        {
            var end = i;
            while (end < batch.Count && batch[end] is SendRequest { Command.ConversationId: not null }) end++;
            if (end - i >= 2)
            {
                SendRun(batch, i, end, now);
                i = end;
            }
            else
            {
                batch[i].Execute(this, now);
                i++;
            }
        }
    }

    private const string InsertAndTouchSql =
        """
        WITH m AS (
            INSERT INTO messages (conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation, client_msg_id)
            VALUES ($1, $2, $3, $4, $5, 0, $6)
            ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
            RETURNING id
        ), touched AS (
            UPDATE conversation_members cm
            SET last_message_id = GREATEST(cm.last_message_id, m.id),
                unread_count = cm.unread_count + CASE WHEN cm.user_id = $3 THEN 1 ELSE 0 END
            FROM m
            WHERE cm.user_id IN ($2, $3) AND cm.conversation_id = $1
        )
        SELECT id FROM m
        """;

    private void SendRun(IReadOnlyList<WriteRequest> batch, int start, int end, long now)
    {
        using var run = new NpgsqlBatch(_connection, _transaction);
        for (var i = start; i < end; i++)
        {
            var c = ((SendRequest)batch[i]).Command;
            var command = new NpgsqlBatchCommand(InsertAndTouchSql);
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = c.ConversationId!.Value });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = c.Sender.Id });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = c.Receiver.Id });
            command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = c.Body });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = now });
            command.Parameters.Add(c.ClientMsgId is null
                ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text }
                : new NpgsqlParameter<string> { TypedValue = c.ClientMsgId });
            run.BatchCommands.Add(command);
        }
        var ids = new long?[end - start];
        using (var reader = run.ExecuteReader())
        {
            for (var k = 0; k < ids.Length; k++)
            {
                if (reader.Read()) ids[k] = reader.GetInt64(0);
                reader.NextResult();
            }
        }
        for (var i = start; i < end; i++)
        {
            var request = (SendRequest)batch[i];
            var c = request.Command;
            if (ids[i - start] is { } id)
                request.Stored(new StoredMessage(id, c.ConversationId!.Value, c.Sender, c.Receiver, c.Body, now, IsNewConversation: false), duplicate: false);
            else
                request.Stored(FindRepeat(c)!, duplicate: true);
        }
    }

    public override void Dispose()
    {
        _lock.Dispose();
        _advance.Dispose();
        base.Dispose();
    }
}
