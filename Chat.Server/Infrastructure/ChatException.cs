using Chat.Protocol;

namespace Chat.Server.Infrastructure;

/// <summary>
/// A refusal the client can act on. HTTP turns it into problem details, WebSocket into an <c>error</c> frame.
/// </summary>
public sealed class ChatException(int status, string code, string message) : Exception(message)
{
    public int Status { get; } = status;
    public string Code { get; } = code;
    public TimeSpan? RetryAfter { get; init; }

    public static ChatException BadRequest(string message) => new(400, ErrorCodes.BadRequest, message);
    public static ChatException NotFound(string message = "Not found.") => new(404, ErrorCodes.NotFound, message);
    public static ChatException UnknownUser(string username) => new(404, ErrorCodes.UnknownUser, $"No user named '{username}'.");
    public static ChatException Internal() => new(500, ErrorCodes.Internal, "The server could not complete the request; nothing was stored.");
}
