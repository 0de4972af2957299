namespace Chat.Server.Storage;

/// <summary>Read side of conversations and messages. Every call that takes a conversation checks membership.</summary>
public interface IMessageStore
{
    /// <summary>Newest message id the user sent or received; 0 when none.</summary>
    Task<long> LastMessageIdAsync(long userId, CancellationToken ct);

    /// <summary>Users who share a conversation with <paramref name="userId"/>.</summary>
    Task<IReadOnlyList<Partner>> PartnersAsync(long userId, CancellationToken ct);

    /// <summary>The conversation between two users, or null when they have none.</summary>
    Task<long?> FindConversationAsync(long userId, long otherUserId, CancellationToken ct);

    Task<IReadOnlyList<ConversationSummary>> ListConversationsAsync(long userId, int limit, CancellationToken ct);

    /// <summary>Messages with id below <paramref name="before"/>, newest <paramref name="limit"/>, ascending; null when the user is not a member.</summary>
    Task<IReadOnlyList<HistoryMessage>?> HistoryAsync(long userId, long conversationId, long? before, int limit, CancellationToken ct);

    /// <summary>Messages the user sent or received with id above <paramref name="afterMessageId"/>, ascending, at most <paramref name="limit"/>.</summary>
    Task<(IReadOnlyList<StoredMessage> Messages, bool HasMore)> SyncAsync(long userId, long afterMessageId, int limit, CancellationToken ct);

    /// <summary>
    /// Every user's messages with id above <paramref name="afterMessageId"/> and at most <paramref name="upToMessageId"/>,
    /// ascending, at most <paramref name="limit"/>: a range of the message stream (the cluster's gap fill).
    /// </summary>
    Task<IReadOnlyList<StoredMessage>> StreamRangeAsync(long afterMessageId, long upToMessageId, int limit, CancellationToken ct);
}

public sealed record HistoryMessage(long Id, long ConversationId, string Sender, string Receiver, string Body, long CreatedAt, bool IsRead);

public sealed record ConversationSummary(long ConversationId, UserRow OtherUser, HistoryMessage? LastMessage, long UnreadCount, long CreatedAt);

public sealed record Partner(long Id, string Username);
