using System.Text.Json.Serialization;
using Chat.Protocol.Frames;
using Chat.Protocol.Http;

namespace Chat.Protocol;

/// <summary>
/// Source-generated JSON metadata for every wire type: snake_case names, nulls written out
/// (clients rely on <c>"client_msg_id": null</c> and <c>"profile_picture": null</c>).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    AllowOutOfOrderMetadataProperties = true,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ConnectedFrame))]
[JsonSerializable(typeof(MessageFrame))]
[JsonSerializable(typeof(ConversationRefreshFrame))]
[JsonSerializable(typeof(AckFrame))]
[JsonSerializable(typeof(MessagesReadFrame))]
[JsonSerializable(typeof(TypingFrame))]
[JsonSerializable(typeof(PresenceFrame))]
[JsonSerializable(typeof(SyncCompleteFrame))]
[JsonSerializable(typeof(PongFrame))]
[JsonSerializable(typeof(ErrorFrame))]
[JsonSerializable(typeof(SendMessageFrame))]
[JsonSerializable(typeof(MarkReadFrame))]
[JsonSerializable(typeof(TypingRequestFrame))]
[JsonSerializable(typeof(SyncFrame))]
[JsonSerializable(typeof(UserDto))]
[JsonSerializable(typeof(RegisterRequest))]
[JsonSerializable(typeof(LoginRequest))]
[JsonSerializable(typeof(AuthResponse))]
[JsonSerializable(typeof(UpdateProfileRequest))]
[JsonSerializable(typeof(SearchResponse))]
[JsonSerializable(typeof(SendMessageRequest))]
[JsonSerializable(typeof(SendMessageResponse))]
[JsonSerializable(typeof(MessageDto))]
[JsonSerializable(typeof(ConversationDto))]
[JsonSerializable(typeof(ConversationListResponse))]
[JsonSerializable(typeof(MessageListResponse))]
[JsonSerializable(typeof(MarkReadRequest))]
[JsonSerializable(typeof(MarkReadResponse))]
public sealed partial class ChatJsonContext : JsonSerializerContext;

/// <summary>The wire's JSON settings: <see cref="ChatJsonContext"/>'s metadata, written as raw UTF-8 (<see cref="RawUtf8JsonEncoder"/>).</summary>
public static class ChatJson
{
    /// <summary>
    /// The context every server-side read and write uses: the generated metadata with <see cref="RawUtf8JsonEncoder"/>,
    /// so HTTP bodies, like frames, escape only what JSON requires.
    /// </summary>
    public static ChatJsonContext Wire { get; } = new(new System.Text.Json.JsonSerializerOptions(ChatJsonContext.Default.Options)
    {
        TypeInfoResolver = null,
        Encoder = RawUtf8JsonEncoder.Instance,
    });
}
