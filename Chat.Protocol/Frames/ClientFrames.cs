using System.Text.Json.Serialization;

namespace Chat.Protocol.Frames;

// Client frames are read after the server has looked at "type" (which may sit anywhere in the
// object), so these records carry only the payload fields.

/// <summary><c>send_message</c>: the same fields as <c>POST /api/messages</c>.</summary>
public sealed record SendMessageFrame
{
    [JsonRequired] public string Receiver { get; init; } = "";
    [JsonRequired] public string Message { get; init; } = "";
    public string? ClientMsgId { get; init; }
}

public sealed record MarkReadFrame
{
    [JsonRequired] public long ConversationId { get; init; }
    public long? UpToMessageId { get; init; }
}

public sealed record TypingRequestFrame
{
    [JsonRequired] public string Receiver { get; init; } = "";
}

public sealed record SyncFrame
{
    [JsonRequired] public long AfterMessageId { get; init; }
    public long? Limit { get; init; }
}
