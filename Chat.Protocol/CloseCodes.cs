namespace Chat.Protocol;

/// <summary>WebSocket close status codes the server uses (RFC 6455 section 7.4.1).</summary>
public static class CloseCodes
{
    /// <summary>The server is shutting down.</summary>
    public const int GoingAway = 1001;
    /// <summary>A binary message was received; the protocol is text-only.</summary>
    public const int UnsupportedData = 1003;
    /// <summary>A text message was not valid UTF-8.</summary>
    public const int InvalidPayload = 1007;
    /// <summary>Token revoked, or the client read too slowly and its queue overflowed.</summary>
    public const int PolicyViolation = 1008;
    /// <summary>A message exceeded <c>Chat:MaxFrameBytes</c>.</summary>
    public const int MessageTooBig = 1009;
    /// <summary>The user already has <c>Chat:MaxSocketsPerUser</c> sockets open; this one is refused.</summary>
    public const int TryAgainLater = 1013;
    /// <summary>Unexpected server fault.</summary>
    public const int InternalError = 1011;
}
