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
    private readonly DbCommand _lock;
    private readonly DbCommand _advance;

    public PostgresWriterSession(NpgsqlConnection connection) : base(connection)
    {
        _lock = Command("SELECT position FROM stream_position FOR UPDATE");
        _advance = Command("UPDATE stream_position SET position = @newest WHERE position < @newest", "@newest");
    }

    protected override long? OnBegin(DbTransaction transaction)
    {
        _lock.Transaction = transaction;
        return Convert.ToInt64(_lock.ExecuteScalar());
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
    /// insert per message in one round trip, then one member-row update per conversation in a second. Other writes (a new
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

    private const string InsertSql =
        """
        INSERT INTO messages (conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation, client_msg_id)
        VALUES ($1, $2, $3, $4, $5, 0, $6)
        ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
        RETURNING id
        """;

    // Once per conversation per run: the member rows are PostgreSQL's hottest rows (every message moves both), and each
    // update leaves a dead version behind until vacuum, so one update per conversation, not per message.
    private const string TouchSql =
        """
        UPDATE conversation_members
        SET last_message_id = GREATEST(last_message_id, $2),
            unread_count = unread_count + CASE WHEN user_id = $3 THEN $4 WHEN user_id = $5 THEN $6 ELSE 0 END
        WHERE conversation_id = $1 AND user_id IN ($3, $5)
        """;

    private void SendRun(IReadOnlyList<WriteRequest> batch, int start, int end, long now)
    {
        var ids = new long?[end - start];
        using (var inserts = new NpgsqlBatch((NpgsqlConnection)Connection, (NpgsqlTransaction?)Transaction))
        {
            for (var i = start; i < end; i++)
            {
                var c = ((SendRequest)batch[i]).Command;
                var command = new NpgsqlBatchCommand(InsertSql);
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = c.ConversationId!.Value });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = c.Sender.Id });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = c.Receiver.Id });
                command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = c.Body });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = now });
                command.Parameters.Add(c.ClientMsgId is null
                    ? new NpgsqlParameter { Value = DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text }
                    : new NpgsqlParameter<string> { TypedValue = c.ClientMsgId });
                inserts.BatchCommands.Add(command);
            }
            using var reader = inserts.ExecuteReader();
            for (var k = 0; k < ids.Length; k++)
            {
                if (reader.Read()) ids[k] = reader.GetInt64(0);
                reader.NextResult();
            }
        }

        // Per conversation: the newest id and the messages each participant received.
        var touched = new Dictionary<long, (long Newest, long UserA, long ToA, long UserB, long ToB)>();
        for (var i = start; i < end; i++)
        {
            if (ids[i - start] is not { } id) continue;
            var c = ((SendRequest)batch[i]).Command;
            var key = c.ConversationId!.Value;
            var t = touched.TryGetValue(key, out var seen) ? seen : (Newest: 0L, UserA: c.Sender.Id, ToA: 0L, UserB: c.Receiver.Id, ToB: 0L);
            t.Newest = Math.Max(t.Newest, id);
            if (c.Receiver.Id == t.UserA) t.ToA++; else t.ToB++;
            touched[key] = t;
        }
        if (touched.Count > 0)
        {
            using var touches = new NpgsqlBatch((NpgsqlConnection)Connection, (NpgsqlTransaction?)Transaction);
            foreach (var (conversation, t) in touched)
            {
                var command = new NpgsqlBatchCommand(TouchSql);
                foreach (var value in new[] { conversation, t.Newest, t.UserA, t.ToA, t.UserB, t.ToB })
                    command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = value });
                touches.BatchCommands.Add(command);
            }
            touches.ExecuteNonQuery();
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
