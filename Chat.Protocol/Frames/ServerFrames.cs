using System.Text.Json.Serialization;

namespace Chat.Protocol.Frames;

/// <summary>First frame on every socket.</summary>
public sealed record ConnectedFrame(string Username, long LastMessageId)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Connected;
}

/// <summary>
/// The twelve-field message frame. <see cref="Type"/> is <c>chat_message</c> for the receiver's sockets
/// and <c>message_sent</c> for the sender's.
/// </summary>
public sealed record MessageFrame(
    string Type,
    string Message,
    string Sender,
    string Receiver,
    long MessageId,
    long Timestamp,
    long ConversationId,
    bool IsNewConversation,
    string SenderFullName,
    string SenderEmail,
    string ReceiverFullName,
    string ReceiverEmail);

/// <summary>Sent to the receiver right after the <c>chat_message</c> that created a conversation.</summary>
public sealed record ConversationRefreshFrame(
    long ConversationId,
    string Sender,
    string SenderFullName,
    string SenderEmail,
    long Timestamp)
{
    public const string Text = "New conversation created";
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.ConversationRefresh;
    public string Message => Text;
}

/// <summary>Answer to a <c>send_message</c> once the message is committed.</summary>
public sealed record AckFrame(string? ClientMsgId, long MessageId, long ConversationId, long Timestamp, bool IsNewConversation)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Ack;
}

public sealed record MessagesReadFrame(long ConversationId, string Reader, long UpToMessageId)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.MessagesRead;
}

public sealed record TypingFrame(string Sender, string SenderFullName, long ConversationId)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Typing;
}

public sealed record PresenceFrame(string Username, bool Online)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Presence;
}

public sealed record SyncCompleteFrame(long LastMessageId, bool HasMore)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.SyncComplete;
}

public sealed record PongFrame
{
    public static readonly PongFrame Instance = new();
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Pong;
}

public sealed record ErrorFrame(string Code, string Message, string? ClientMsgId)
{
    [JsonPropertyOrder(-1)]
    public string Type => FrameTypes.Error;
}
