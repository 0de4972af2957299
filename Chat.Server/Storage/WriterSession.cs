using Chat.Server.Messaging;
using System.Data.Common;

namespace Chat.Server.Storage;

/// <summary>
/// The writer's own connection with its statements prepared once and reused for every batch (re-preparing SQL per
/// message was a large share of the commit cost), for both engines: the SQL is in the subset both accept, and an engine
/// adds what it needs around each transaction (<see cref="OnBegin"/>, <see cref="OnCommit"/>).
/// </summary>
internal class WriterSession : IWriteSession
{
    internal const string FindByClientMsgIdSql = "SELECT id, conversation_id, receiver_id, body, created_at, is_new_conversation FROM messages WHERE sender_id = @sender AND client_msg_id = @client";
    internal const string FindConversationSql = "SELECT id FROM conversations WHERE user_a = @a AND user_b = @b";
    internal const string CountUnreadSql = "SELECT COUNT(*) FROM messages WHERE conversation_id = @conversation AND receiver_id = @user AND id > @upTo";
    internal const string FindMemberSql = "SELECT other_user_id, last_message_id, read_up_to FROM conversation_members WHERE user_id = @user AND conversation_id = @conversation";
    internal const string TouchMembersSql =
        """
        UPDATE conversation_members
        SET last_message_id = CASE WHEN last_message_id > @message THEN last_message_id ELSE @message END,
            unread_count = unread_count + CASE WHEN user_id = @receiver THEN 1 ELSE 0 END
        WHERE user_id IN (@sender, @receiver) AND conversation_id = @conversation
        """;

    private readonly DbConnection _connection;

    /// <summary>The session's connection, for an engine's own statements.</summary>
    protected DbConnection Connection => _connection;

    /// <summary>The transaction of the batch being committed; null between batches.</summary>
    protected DbTransaction? Transaction => _transaction;
    private readonly DbCommand _findByClientMsgId;
    private readonly DbCommand _findConversation;
    private readonly DbCommand _insertConversation;
    private readonly DbCommand _insertMember;
    private readonly DbCommand _insertMessage;
    private readonly DbCommand _touchMembers;
    private readonly DbCommand _findUser;
    private readonly DbCommand _findMember;
    private readonly DbCommand _countUnread;
    private readonly DbCommand _updateRead;
    private DbTransaction? _transaction;

    /// <param name="connection">Open, and configured for writing by its engine; the session owns it.</param>
    public WriterSession(DbConnection connection)
    {
        _connection = connection;
        _findByClientMsgId = Command(FindByClientMsgIdSql, "@sender", "@client");
        _findConversation = Command(FindConversationSql, "@a", "@b");
        _insertConversation = Command("INSERT INTO conversations (user_a, user_b, created_at) VALUES (@a, @b, @now) RETURNING id", "@a", "@b", "@now");
        _insertMember = Command("INSERT INTO conversation_members (user_id, conversation_id, other_user_id) VALUES (@user, @conversation, @other)", "@user", "@conversation", "@other");
        _insertMessage = Command(
            """
            INSERT INTO messages (conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation, client_msg_id)
            VALUES (@conversation, @sender, @receiver, @body, @now, @isNew, @client)
            ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
            RETURNING id
            """, "@conversation", "@sender", "@receiver", "@body", "@now", "@isNew", "@client");
        _touchMembers = Command(
            TouchMembersSql, "@message", "@receiver", "@conversation", "@sender");
        _findUser = Command("SELECT id, username, full_name, email, avatar_version FROM users WHERE id = @id", "@id");
        _findMember = Command(FindMemberSql, "@user", "@conversation");
        _countUnread = Command(CountUnreadSql, "@conversation", "@user", "@upTo");
        _updateRead = Command("UPDATE conversation_members SET read_up_to = @upTo, unread_count = @unread WHERE user_id = @user AND conversation_id = @conversation", "@upTo", "@unread", "@user", "@conversation");
    }

    /// <summary>
    /// Runs first in every transaction (PostgreSQL: takes the lock that orders ids across nodes). Returns the stream
    /// position read under that lock, or null where this process is the only writer.
    /// </summary>
    protected virtual long? OnBegin(DbTransaction transaction) => null;

    /// <summary>Runs last in every transaction, before its commit; <paramref name="newestMessageId"/> is 0 when it inserted none.</summary>
    protected virtual void OnCommit(DbTransaction transaction, long newestMessageId) { }

    /// <summary>A command on this session's connection, for <see cref="OnBegin"/> and <see cref="OnCommit"/>.</summary>
    protected DbCommand Command(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public long? Begin()
    {
        _transaction = _connection.BeginTransaction();
        foreach (var command in AllCommands()) command.Transaction = _transaction;
        return OnBegin(_transaction);
    }

    public void Commit(long newestMessageId)
    {
        OnCommit(_transaction!, newestMessageId);
        _transaction!.Commit();
        _transaction.Dispose();
        _transaction = null;
    }

    public void Rollback()
    {
        try { _transaction?.Rollback(); } catch (DbException) { /* already rolled back by the engine */ }
        _transaction?.Dispose();
        _transaction = null;
    }

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

    public virtual void ExecuteAll(IReadOnlyList<WriteRequest> batch, long now)
    {
        foreach (var request in batch) request.Execute(this, now);
    }

    /// <summary>The original of a repeated <c>client_msg_id</c>, or null when there is none.</summary>
    protected StoredMessage? FindRepeat(SendCommand c)
    {
        long id, conversationId, receiverId, createdAt;
        string body;
        bool isNew;
        // Read and closed before FindUser runs: PostgreSQL allows one open command per connection.
        using (var reader = Run(_findByClientMsgId, c.Sender.Id, c.ClientMsgId!).ExecuteReader())
        {
            if (!reader.Read()) return null;
            (id, conversationId, receiverId, body, createdAt, isNew) =
                (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetString(3), reader.GetInt64(4), reader.GetInt64(5) != 0);
        }
        var receiver = receiverId == c.Receiver.Id ? c.Receiver : FindUser(receiverId);
        return new StoredMessage(id, conversationId, c.Sender, receiver, body, createdAt, isNew);
    }

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

    private static DbCommand Run(DbCommand command, params object[] values)
    {
        for (var i = 0; i < values.Length; i++) command.Parameters[i].Value = values[i];
        return command;
    }

    private IEnumerable<DbCommand> AllCommands() =>
    [
        _findByClientMsgId, _findConversation, _insertConversation, _insertMember, _insertMessage,
        _touchMembers, _findUser, _findMember, _countUnread, _updateRead,
    ];

    public virtual void Dispose()
    {
        Rollback();
        foreach (var command in AllCommands()) command.Dispose();
        _connection.Dispose();
    }
}
