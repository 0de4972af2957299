namespace Chat.Protocol;

/// <summary>Stable machine-readable error codes carried by problem details (<c>code</c>) and <c>error</c> frames.</summary>
public static class ErrorCodes
{
    public const string BadRequest = "bad_request";
    public const string Unauthorized = "unauthorized";
    public const string InvalidCredentials = "invalid_credentials";
    public const string UsernameTaken = "username_taken";
    public const string UnknownUser = "unknown_user";
    public const string InvalidReceiver = "invalid_receiver";
    public const string EmptyMessage = "empty_message";
    public const string MessageTooLong = "message_too_long";
    public const string NotFound = "not_found";
    public const string TooLarge = "too_large";
    public const string UnsupportedMediaType = "unsupported_media_type";
    public const string RateLimited = "rate_limited";
    public const string Internal = "internal";

    /// <summary>403 on a <c>/ws</c> upgrade from a web page whose origin is not allowed (<c>Chat:AllowedOrigins</c>).</summary>
    public const string OriginNotAllowed = "origin_not_allowed";

    // WebSocket-only
    public const string BadJson = "bad_json";
    public const string BadFrame = "bad_frame";
    public const string UnknownType = "unknown_type";
}
