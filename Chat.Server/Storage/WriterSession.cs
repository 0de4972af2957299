using Chat.Server.Messaging;
using Microsoft.Data.Sqlite;

namespace Chat.Server.Storage;

/// <summary>
/// The writer's own connection with its statements prepared once and reused for every batch
/// (re-preparing SQL per message was a large share of the commit cost).
/// </summary>
internal sealed class WriterSession : IDisposable
{
    internal const string FindByClientMsgIdSql = "SELECT id, conversation_id, receiver_id, body, created_at, is_new_conversation FROM messages WHERE sender_id = $sender AND client_msg_id = $client";
    internal const string FindConversationSql = "SELECT id FROM conversations WHERE user_a = $a AND user_b = $b";
    internal const string CountUnreadSql = "SELECT COUNT(*) FROM messages WHERE conversation_id = $conversation AND receiver_id = $user AND id > $upTo";
    internal const string FindMemberSql = "SELECT other_user_id, last_message_id, read_up_to FROM conversation_members WHERE user_id = $user AND conversation_id = $conversation";
    internal const string TouchMembersSql =
        """
        UPDATE conversation_members
        SET last_message_id = $message,
            unread_count = unread_count + (user_id = $receiver)
        WHERE user_id IN ($sender, $receiver) AND conversation_id = $conversation
        """;

    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _findByClientMsgId;
    private readonly SqliteCommand _findConversation;
    private readonly SqliteCommand _insertConversation;
    private readonly SqliteCommand _insertMember;
    private readonly SqliteCommand _insertMessage;
    private readonly SqliteCommand _touchMembers;
    private readonly SqliteCommand _findUser;
    private readonly SqliteCommand _findMember;
    private readonly SqliteCommand _countUnread;
    private readonly SqliteCommand _updateRead;
    private SqliteTransaction? _transaction;

    /// <param name="deferSync">
    /// Commit without fsync (<c>synchronous=NORMAL</c>); the caller fsyncs the WAL (<see cref="SqliteDatabase.SyncWal"/>)
    /// before it tells anyone, on another thread, so the next batch runs while the disk catches up.
    /// </param>
    public WriterSession(SqliteConnection connection, bool deferSync)
    {
        _connection = connection;
        using (var pragma = connection.CreateCommand())
        {
            if (deferSync)
            {
                pragma.CommandText = "PRAGMA synchronous=NORMAL";
                pragma.ExecuteNonQuery();
            }
            // The writer touches the tail of several indexes on every send; SQLite's default 2 MB page
            // cache made it re-read pages from the OS on each statement. 64 MB keeps them in memory.
            pragma.CommandText = "PRAGMA cache_size=-65536";
            pragma.ExecuteNonQuery();
            // WalCheckpointer copies the WAL back on its own thread; this is only the safety valve.
            pragma.CommandText = $"PRAGMA wal_autocheckpoint={WalCheckpointer.WriterFallbackPages}";
            pragma.ExecuteNonQuery();
        }
        _findByClientMsgId = Command(FindByClientMsgIdSql, "$sender", "$client");
        _findConversation = Command(FindConversationSql, "$a", "$b");
        _insertConversation = Command("INSERT INTO conversations (user_a, user_b, created_at) VALUES ($a, $b, $now) RETURNING id", "$a", "$b", "$now");
        _insertMember = Command("INSERT INTO conversation_members (user_id, conversation_id, other_user_id) VALUES ($user, $conversation, $other)", "$user", "$conversation", "$other");
        _insertMessage = Command(
            """
            INSERT INTO messages (conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation, client_msg_id)
            VALUES ($conversation, $sender, $receiver, $body, $now, $isNew, $client)
            ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
            RETURNING id
            """, "$conversation", "$sender", "$receiver", "$body", "$now", "$isNew", "$client");
        _touchMembers = Command(
            TouchMembersSql, "$message", "$receiver", "$conversation", "$sender");
        _findUser = Command("SELECT id, username, full_name, email, avatar_version FROM users WHERE id = $id", "$id");
        _findMember = Command(FindMemberSql, "$user", "$conversation");
        _countUnread = Command(CountUnreadSql, "$conversation", "$user", "$upTo");
        _updateRead = Command("UPDATE conversation_members SET read_up_to = $upTo, unread_count = $unread WHERE user_id = $user AND conversation_id = $conversation", "$upTo", "$unread", "$user", "$conversation");
    }

    public void Begin()
    {
        _transaction = _connection.BeginTransaction();
        foreach (var command in AllCommands()) command.Transaction = _transaction;
    }

    public void Commit()
    {
        _transaction!.Commit();
        _transaction.Dispose();
        _transaction = null;
    }

    public void Rollback()
    {
        try { _transaction?.Rollback(); } catch (SqliteException) { /* already rolled back by SQLite */ }
        _transaction?.Dispose();
        _transaction = null;
    }

    /// <summary>
    /// Inserts a message. Without <see cref="SendCommand.ConversationId"/> the pair's conversation is created with it,
    /// unless a write committed before this one (in this batch or an earlier one) created it: then the message joins
    /// that one and is not new. A repeated <c>client_msg_id</c> returns the original (<paramref name="duplicate"/>).
    /// </summary>
    public StoredMessage Send(SendCommand c, long now, out bool duplicate)
    {
        var isNew = false;
        if (c.ConversationId is not { } conversationId)
        {
            // A repeat is looked for before a conversation could be created for it (its original may have gone to
            // someone else). On the common path (a known conversation) the insert's ON CONFLICT finds repeats.
            if (c.ClientMsgId is not null && FindRepeat(c) is { } earlier)
            {
                duplicate = true;
                return earlier;
            }
            var pair = c.Sender.Id < c.Receiver.Id ? (c.Sender.Id, c.Receiver.Id) : (c.Receiver.Id, c.Sender.Id);
            if (Run(_findConversation, pair.Item1, pair.Item2).ExecuteScalar() is long existing)
            {
                conversationId = existing;
            }
            else
            {
                isNew = true;
                conversationId = (long)Run(_insertConversation, pair.Item1, pair.Item2, now).ExecuteScalar()!;
                Run(_insertMember, pair.Item1, conversationId, pair.Item2).ExecuteNonQuery();
                Run(_insertMember, pair.Item2, conversationId, pair.Item1).ExecuteNonQuery();
            }
        }

        if (Run(_insertMessage, conversationId, c.Sender.Id, c.Receiver.Id, c.Body, now, isNew ? 1L : 0L, (object?)c.ClientMsgId ?? DBNull.Value).ExecuteScalar() is not long messageId)
        {
            duplicate = true;
            return FindRepeat(c)!;
        }
        duplicate = false;
        Run(_touchMembers, messageId, c.Receiver.Id, conversationId, c.Sender.Id).ExecuteNonQuery();
        return new StoredMessage(messageId, conversationId, c.Sender, c.Receiver, c.Body, now, isNew);
    }

    private StoredMessage? FindRepeat(SendCommand c)
    {
        using var reader = Run(_findByClientMsgId, c.Sender.Id, c.ClientMsgId!).ExecuteReader();
        if (!reader.Read()) return null;
        var receiverId = reader.GetInt64(2);
        var receiver = receiverId == c.Receiver.Id ? c.Receiver : FindUser(receiverId);
        return new StoredMessage(reader.GetInt64(0), reader.GetInt64(1), c.Sender, receiver, reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5) != 0);
    }

    /// <returns>Null when the reader is not a member of the conversation.</returns>
    public ReadResult? MarkRead(ReadCommand c)
    {
        long otherUserId, lastMessageId, readUpTo;
        using (var reader = Run(_findMember, c.Reader.Id, c.ConversationId).ExecuteReader())
        {
            if (!reader.Read()) return null;
            (otherUserId, lastMessageId, readUpTo) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
        }
        // Never past the newest message, never backwards.
        var target = Math.Min(c.UpToMessageId ?? lastMessageId, lastMessageId);
        var upTo = Math.Max(readUpTo, target);
        var unread = (long)Run(_countUnread, c.ConversationId, c.Reader.Id, upTo).ExecuteScalar()!;
        Run(_updateRead, upTo, unread, c.Reader.Id, c.ConversationId).ExecuteNonQuery();
        return new ReadResult(c.ConversationId, c.Reader, otherUserId, upTo, unread);
    }

    private UserRow FindUser(long id)
    {
        using var reader = Run(_findUser, id).ExecuteReader();
        reader.Read();
        return new UserRow { Id = reader.GetInt64(0), Username = reader.GetString(1), FullName = reader.GetString(2), Email = reader.GetString(3), AvatarVersion = reader.GetInt64(4) };
    }

    private SqliteCommand Command(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters) command.Parameters.Add(new SqliteParameter { ParameterName = name });
        return command;
    }

    private static SqliteCommand Run(SqliteCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
        return command;
    }

    private IEnumerable<SqliteCommand> AllCommands() =>
    [
        _findByClientMsgId, _findConversation, _insertConversation, _insertMember, _insertMessage,
        _touchMembers, _findUser, _findMember, _countUnread, _updateRead,
    ];

    public void Dispose()
    {
        Rollback();
        foreach (var command in AllCommands()) command.Dispose();
        _connection.Dispose();
    }
}
