using Dapper;

namespace Chat.Server.Storage;

/// <summary>
/// The read side of messaging, for both engines (one SQL text each, in the subset both accept). Where a committed row can
/// still be lost (<see cref="IChatDatabase.ReadsNeedStreamPosition"/>), every read is bounded by the
/// <see cref="StreamPosition"/>: nothing not yet durable is shown.
/// </summary>
public sealed class MessageStore(IChatDatabase db, StreamPosition position) : IMessageStore
{
    internal const string LastMessageIdSql =
        """
        SELECT CASE WHEN s.id > r.id THEN s.id ELSE r.id END
        FROM (SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE sender_id = @userId AND id <= @position) s,
             (SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE receiver_id = @userId AND id <= @position) r
        """;

    internal const string SyncSql =
        """
        SELECT m.id, m.conversation_id, m.body, m.created_at, m.is_new_conversation,
               s.id AS s_id, s.username AS s_username, s.full_name AS s_full_name, s.email AS s_email, s.avatar_version AS s_avatar_version,
               r.id AS r_id, r.username AS r_username, r.full_name AS r_full_name, r.email AS r_email, r.avatar_version AS r_avatar_version
        FROM (
            SELECT * FROM (SELECT id FROM messages WHERE sender_id = @userId AND id > @afterMessageId AND id <= @position ORDER BY id LIMIT @take) sent
            UNION
            SELECT * FROM (SELECT id FROM messages WHERE receiver_id = @userId AND id > @afterMessageId AND id <= @position ORDER BY id LIMIT @take) received
        ) ids
        JOIN messages m ON m.id = ids.id
        JOIN users s ON s.id = m.sender_id
        JOIN users r ON r.id = m.receiver_id
        ORDER BY m.id
        LIMIT @take
        """;

    internal const string StreamRangeSql =
        """
        SELECT m.id, m.conversation_id, m.body, m.created_at, m.is_new_conversation,
               s.id AS s_id, s.username AS s_username, s.full_name AS s_full_name, s.email AS s_email, s.avatar_version AS s_avatar_version,
               r.id AS r_id, r.username AS r_username, r.full_name AS r_full_name, r.email AS r_email, r.avatar_version AS r_avatar_version
        FROM messages m
        JOIN users s ON s.id = m.sender_id
        JOIN users r ON r.id = m.receiver_id
        WHERE m.id > @afterMessageId AND m.id <= @upTo
        ORDER BY m.id
        LIMIT @limit
        """;

    internal const string HistorySql =
        """
        SELECT id, sender_id, receiver_id, body, created_at FROM messages
        WHERE conversation_id = @conversationId AND id < @before AND id <= @position
        ORDER BY id DESC
        LIMIT @limit
        """;

    internal const string HistoryMembersSql =
        """
        SELECT cm.user_id, cm.read_up_to, u.username
        FROM conversation_members cm JOIN users u ON u.id = cm.user_id
        WHERE cm.conversation_id = @conversationId
        """;

    // The member row carries the newest message and the unread count as committed; past the stream position (a commit
    // whose fsync is pending) the newest durable message and the unread count without the pending tail are read
    // instead, and a conversation with no durable message yet is left out. The CASEs keep the common case (nothing
    // pending) to the single-row joins.
    internal const string ListConversationsSql =
        """
        SELECT cm.conversation_id, c.created_at,
               CASE WHEN cm.last_message_id <= @position THEN cm.unread_count
                    ELSE cm.unread_count - (SELECT COUNT(*) FROM messages p
                                            WHERE p.conversation_id = cm.conversation_id AND p.id > @position
                                              AND p.receiver_id = @userId AND p.id > cm.read_up_to) END AS unread_count,
               o.id AS other_id, o.username AS other_username, o.full_name AS other_full_name,
               o.email AS other_email, o.avatar_version AS other_avatar_version,
               m.id AS message_id, m.sender_id, m.body, m.created_at AS message_created_at,
               rm.read_up_to AS receiver_read_up_to
        FROM conversation_members cm
        JOIN conversations c ON c.id = cm.conversation_id
        JOIN users o ON o.id = cm.other_user_id
        JOIN messages m ON m.id = CASE WHEN cm.last_message_id <= @position THEN cm.last_message_id
                                       ELSE (SELECT MAX(d.id) FROM messages d WHERE d.conversation_id = cm.conversation_id AND d.id <= @position) END
        LEFT JOIN conversation_members rm ON rm.conversation_id = cm.conversation_id AND rm.user_id = m.receiver_id
        WHERE cm.user_id = @userId
        ORDER BY cm.last_message_id DESC
        LIMIT @limit
        """;

    /// <summary>The newest id a read may show: the stream position, or every committed id where all are durable.</summary>
    private long Bound => db.ReadsNeedStreamPosition ? position.Current : long.MaxValue;

    public async Task<long> LastMessageIdAsync(long userId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // Two index lookups (sender, receiver) rather than one OR that would scan.
        return await connection.ExecuteScalarAsync<long>(
            LastMessageIdSql, new { userId, position = Bound });
    }

    public async Task<IReadOnlyList<Partner>> PartnersAsync(long userId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<(long, string)>(
            "SELECT cm.other_user_id, u.username FROM conversation_members cm JOIN users u ON u.id = cm.other_user_id WHERE cm.user_id = @userId",
            new { userId });
        return rows.Select(r => new Partner(r.Item1, r.Item2)).ToList();
    }

    public async Task<long?> FindConversationAsync(long userId, long otherUserId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long?>(
            "SELECT conversation_id FROM conversation_members WHERE user_id = @userId AND other_user_id = @otherUserId", new { userId, otherUserId });
    }

    public async Task<IReadOnlyList<ConversationSummary>> ListConversationsAsync(long userId, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // One query: the member row carries ordering and unread count; the last message and the
        // receiver's read cursor (for is_read) are single-row joins.
        var rows = await connection.QueryAsync<ConversationRow>(
            ListConversationsSql, new { userId, limit, position = Bound });
        var me = await connection.QuerySingleAsync<string>("SELECT username FROM users WHERE id = @userId", new { userId });
        return rows.Select(r =>
        {
            var other = new UserRow { Id = r.OtherId, Username = r.OtherUsername, FullName = r.OtherFullName, Email = r.OtherEmail, AvatarVersion = r.OtherAvatarVersion };
            HistoryMessage? last = r.MessageId is { } id
                ? new HistoryMessage(id, r.ConversationId,
                    r.SenderId == userId ? me : other.Username,
                    r.SenderId == userId ? other.Username : me,
                    r.Body!, r.MessageCreatedAt ?? 0, id <= (r.ReceiverReadUpTo ?? 0))
                : null;
            return new ConversationSummary(r.ConversationId, other, last, r.UnreadCount, r.CreatedAt);
        }).ToList();
    }

    public async Task<IReadOnlyList<HistoryMessage>?> HistoryAsync(long userId, long conversationId, long? before, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var members = (await connection.QueryAsync<MemberRow>(
            HistoryMembersSql, new { conversationId })).AsList();
        if (!members.Exists(m => m.UserId == userId)) return null;

        var rows = (await connection.QueryAsync<MessageRow>(
            HistorySql, new { conversationId, before = before ?? long.MaxValue, limit, position = Bound })).AsList();
        rows.Reverse();
        return rows.Select(r =>
        {
            var sender = members.Find(m => m.UserId == r.SenderId)!;
            var receiver = members.Find(m => m.UserId == r.ReceiverId)!;
            return new HistoryMessage(r.Id, conversationId, sender.Username, receiver.Username, r.Body, r.CreatedAt, r.Id <= receiver.ReadUpTo);
        }).ToList();
    }

    public async Task<(IReadOnlyList<StoredMessage> Messages, bool HasMore)> SyncAsync(long userId, long afterMessageId, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        // Each half is an index range scan ((sender_id, id) and (receiver_id, id)) stopped at limit + 1.
        var rows = (await connection.QueryAsync<SyncRow>(
            SyncSql, new { userId, afterMessageId, take = limit + 1, position = Bound })).AsList();
        var hasMore = rows.Count > limit;
        if (hasMore) rows.RemoveAt(rows.Count - 1);
        return (rows.Select(ToStoredMessage).ToList(), hasMore);
    }

    public async Task<IReadOnlyList<StoredMessage>> StreamRangeAsync(long afterMessageId, long upToMessageId, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<SyncRow>(new CommandDefinition(
            StreamRangeSql, new { afterMessageId, upTo = Math.Min(upToMessageId, Bound), limit }, cancellationToken: ct));
        return rows.Select(ToStoredMessage).ToList();
    }

    private static StoredMessage ToStoredMessage(SyncRow r) => new(
        r.Id, r.ConversationId,
        new UserRow { Id = r.SId, Username = r.SUsername, FullName = r.SFullName, Email = r.SEmail, AvatarVersion = r.SAvatarVersion },
        new UserRow { Id = r.RId, Username = r.RUsername, FullName = r.RFullName, Email = r.REmail, AvatarVersion = r.RAvatarVersion },
        r.Body, r.CreatedAt, r.IsNewConversation != 0);

    private sealed class ConversationRow
    {
        public long ConversationId { get; set; }
        public long UnreadCount { get; set; }
        public long CreatedAt { get; set; }
        public long OtherId { get; set; }
        public string OtherUsername { get; set; } = "";
        public string OtherFullName { get; set; } = "";
        public string OtherEmail { get; set; } = "";
        public long OtherAvatarVersion { get; set; }
        public long? MessageId { get; set; }
        public long? SenderId { get; set; }
        public string? Body { get; set; }
        public long? MessageCreatedAt { get; set; }
        public long? ReceiverReadUpTo { get; set; }
    }

    private sealed class MemberRow
    {
        public long UserId { get; set; }
        public long ReadUpTo { get; set; }
        public string Username { get; set; } = "";
    }

    private sealed class MessageRow
    {
        public long Id { get; set; }
        public long SenderId { get; set; }
        public long ReceiverId { get; set; }
        public string Body { get; set; } = "";
        public long CreatedAt { get; set; }
    }

    private sealed class SyncRow
    {
        public long Id { get; set; }
        public long ConversationId { get; set; }
        public string Body { get; set; } = "";
        public long CreatedAt { get; set; }
        public long IsNewConversation { get; set; }
        public long SId { get; set; }
        public string SUsername { get; set; } = "";
        public string SFullName { get; set; } = "";
        public string SEmail { get; set; } = "";
        public long SAvatarVersion { get; set; }
        public long RId { get; set; }
        public string RUsername { get; set; } = "";
        public string RFullName { get; set; } = "";
        public string REmail { get; set; } = "";
        public long RAvatarVersion { get; set; }
    }
}
