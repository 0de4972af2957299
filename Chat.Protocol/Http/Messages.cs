namespace Chat.Protocol.Http;

public sealed record SendMessageRequest(string Receiver, string Message, string? ClientMsgId = null);

public sealed record SendMessageResponse(
    long MessageId,
    long ConversationId,
    string Sender,
    string Receiver,
    string Message,
    long Timestamp,
    bool IsNewConversation);

/// <summary>A stored message as history and <c>last_message</c> show it.</summary>
public sealed record MessageDto(
    long MessageId,
    long ConversationId,
    string Sender,
    string Receiver,
    string Message,
    long Timestamp,
    bool IsRead);

public sealed record ConversationDto(
    long ConversationId,
    UserDto OtherUser,
    MessageDto? LastMessage,
    long UnreadCount,
    long CreatedAt);

public sealed record ConversationListResponse(IReadOnlyList<ConversationDto> Conversations);

public sealed record MessageListResponse(IReadOnlyList<MessageDto> Messages);

public sealed record MarkReadRequest(long? UpToMessageId = null);

public sealed record MarkReadResponse(long ConversationId, long UpToMessageId, long UnreadCount);
