using Chat.Protocol;
using Chat.Protocol.Frames;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
using Chat.Server.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Chat.Server.Realtime;

internal static partial class WebSocketEndpoint
{
    public static IEndpointRouteBuilder MapChatWebSocket(this IEndpointRouteBuilder app)
    {
        app.Map("/ws", HandleAsync).WithTags("Realtime").ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> HandleAsync(
        HttpContext http,
        ConnectionRegistry registry,
        ClientFrameHandler handler,
        PresenceNotifier presence,
        IMessageStore store,
        IUserStore users,
        IOptions<ChatOptions> options,
        ILoggerFactory loggers)
    {
        if (!http.WebSockets.IsWebSocketRequest)
            return Problems.Create(400, ErrorCodes.BadRequest, "This endpoint only accepts WebSocket upgrade requests.");

        // Authenticate before the upgrade, so a bad token is a plain 401 the client can read.
        var auth = await http.AuthenticateAsync(TokenAuthenticationHandler.SchemeName);
        if (!auth.Succeeded)
            return Problems.Create(401, ErrorCodes.Unauthorized, "A valid token is required (Authorization: Bearer or ?token=).");
        var userId = auth.Principal.UserId();
        var user = await users.FindByIdAsync(userId, http.RequestAborted);
        if (user is null)
            return Problems.Create(401, ErrorCodes.Unauthorized, "Unknown user.");

        var o = options.Value;
        using var socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
        {
            KeepAliveInterval = o.KeepAliveInterval,
            KeepAliveTimeout = o.KeepAliveTimeout,
        });
        var logger = loggers.CreateLogger<ChatConnection>();

        if (registry.SocketsOf(user.Id).Count >= o.MaxSocketsPerUser)
        {
            // The new socket is refused, not an old one: a reconnect loop must not knock out live devices.
            LogTooManySockets(logger, user.Username, o.MaxSocketsPerUser);
            using var timeout = new CancellationTokenSource(o.CloseTimeout);
            try { await socket.CloseAsync((System.Net.WebSockets.WebSocketCloseStatus)CloseCodes.TryAgainLater, "too many sockets", timeout.Token); }
            catch (Exception e) when (e is System.Net.WebSockets.WebSocketException or OperationCanceledException) { socket.Abort(); }
            return Results.Empty;
        }
        var connection = new ChatConnection(socket, user.Id, user.Username, auth.Principal.TokenId(), o, logger);

        // Register first, then read last_message_id: a message committed in between is both counted and
        // queued, never missed. Frames queued meanwhile wait behind the preamble (connected, presence).
        // A socket lives no longer than the token it was opened with.
        using var expiry = new CancellationTokenSource(Clamp(auth.Principal.TokenExpires() - DateTimeOffset.UtcNow));
        using var onExpiry = expiry.Token.Register(() => connection.Close(CloseCodes.PolicyViolation, "token expired", drain: false));

        var first = registry.Add(connection);
        if (registry.IsShuttingDown) connection.Close(CloseCodes.GoingAway, "server shutting down", drain: true);
        LogConnected(logger, user.Username, registry.Count);
        try
        {
            var preamble = BuildPreambleAsync(connection, user, store, presence, http.RequestAborted);
            if (first) _ = presence.AnnounceAsync(user.Id, user.Username);
            await connection.RunAsync(preamble, handler.HandleAsync, http.RequestAborted);
        }
        finally
        {
            if (registry.Remove(connection)) _ = presence.AnnounceAsync(user.Id, user.Username);
            LogDisconnected(logger, user.Username, registry.Count);
        }
        return Results.Empty;
    }

    private static async Task<IReadOnlyList<OutboundFrame>> BuildPreambleAsync(
        ChatConnection connection, UserRow user, IMessageStore store, PresenceNotifier presence, CancellationToken ct)
    {
        var lastMessageId = await store.LastMessageIdAsync(user.Id, ct);
        var frames = new List<OutboundFrame> { OutboundFrame.Of(new ConnectedFrame(user.Username, lastMessageId), ChatJsonContext.Default.ConnectedFrame) };
        frames.AddRange(await presence.SnapshotAsync(user.Id, ct));
        return frames;
    }

    private static TimeSpan Clamp(TimeSpan delay) =>
        delay <= TimeSpan.Zero ? TimeSpan.FromMilliseconds(1) : delay > TimeSpan.FromDays(24) ? TimeSpan.FromDays(24) : delay;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a socket of {Username}: already {Max} open")]
    private static partial void LogTooManySockets(ILogger logger, string username, int max);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket opened for {Username}; {Count} open")]
    private static partial void LogConnected(ILogger logger, string username, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket closed for {Username}; {Count} open")]
    private static partial void LogDisconnected(ILogger logger, string username, int count);
}
