using System.Net.WebSockets;
using Chat.Protocol;
using Chat.Server.Auth;
using Chat.Server.Hosting;
using Chat.Server.Infrastructure;
using Chat.Server.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Chat.Server.Realtime;

/// <summary>
/// <c>/ws</c> through the HTTP pipeline: every upgrade that <see cref="WebSocketFastPath"/> does not take
/// (TestHost, unusual requests) and every refusal (400, 401, 403) the client must be able to read.
/// </summary>
internal static class WebSocketEndpoint
{
    public static IEndpointRouteBuilder MapChatWebSocket(this IEndpointRouteBuilder app)
    {
        app.Map("/ws", HandleAsync).WithTags("Realtime").ExcludeFromDescription();
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext http, ChatSession session, IUserStore users, IOptions<ChatOptions> options, CrossOrigin origins)
    {
        if (!http.WebSockets.IsWebSocketRequest)
            return Problems.Create(400, ErrorCodes.BadRequest, "This endpoint only accepts WebSocket upgrade requests.");
        // Before the token is looked at: a page of another origin learns nothing about it.
        if (!origins.IsAllowed(http.Request.Headers.Origin.FirstOrDefault(), http.Request.Host.Value))
            return Problems.Create(403, ErrorCodes.OriginNotAllowed, "Pages of this origin may not open sockets here (Chat:AllowedOrigins).");

        // Authenticate before the upgrade, so a bad token is a plain 401 the client can read.
        var auth = await http.AuthenticateAsync(TokenAuthenticationHandler.SchemeName);
        if (!auth.Succeeded)
            return Problems.Create(401, ErrorCodes.Unauthorized, "A valid token is required (Authorization: Bearer or ?token=).");
        var user = await users.FindByIdAsync(auth.Principal.UserId(), http.RequestAborted);
        if (user is null)
            return Problems.Create(401, ErrorCodes.Unauthorized, "Unknown user.");

        var o = options.Value;
        WebSocket socket;
        try
        {
            socket = await http.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext
            {
                KeepAliveInterval = o.KeepAliveInterval,
                KeepAliveTimeout = o.KeepAliveTimeout,
            });
        }
        catch (InvalidOperationException) when (!http.Response.HasStarted)
        {
            // Kestrel refuses the upgrade past Kestrel:Limits:MaxConcurrentUpgradedConnections (derived from the
            // open-file limit, see ConnectionCaps): a full server, not a fault.
            http.Response.Headers.RetryAfter = "5";
            return Problems.Create(503, ErrorCodes.Internal, "The server holds as many WebSockets as it can; try again later.");
        }
        using var _ = socket;
        await session.RunAsync(socket, user.Id, user.Username, auth.Principal.TokenId(), auth.Principal.TokenExpires().ToUnixTimeSeconds(), http.RequestAborted);
        return Results.Empty;
    }
}
