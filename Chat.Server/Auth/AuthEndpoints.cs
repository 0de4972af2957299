using Chat.Protocol;
using Chat.Protocol.Http;
using Chat.Server.Infrastructure;
using Chat.Server.Infrastructure.OpenApi;
using Chat.Server.Realtime;
using Chat.Server.Storage;
using Chat.Server.Users;

namespace Chat.Server.Auth;

internal static class AuthEndpoints
{
    public static IEndpointRouteBuilder MapAuth(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/auth").WithTags("Auth");

        group.MapPost("/register", async (HttpRequest request, IUserStore users, PasswordService passwords, TokenService tokens, CancellationToken ct) =>
        {
            var body = await JsonBody.ReadAsync(request, ChatJson.Wire.RegisterRequest);
            var username = Validation.Username(body.Username);
            var password = Validation.Password(body.Password);
            var fullName = Validation.FullName(body.FullName);
            var email = Validation.Email(body.Email);
            var user = await users.CreateAsync(username, passwords.Hash(password), fullName, email, ct)
                ?? throw new ChatException(409, ErrorCodes.UsernameTaken, $"The username '{username}' is taken.");
            var token = await tokens.IssueAsync(user.Id, ct);
            return TypedResults.Json(new AuthResponse(token, user.ToDto()), ChatJson.Wire.AuthResponse, statusCode: 201);
        })
        .WithName("register")
        .WithSummary("Register a user and get a token")
        .WithDescription("Creates the user (username unique ignoring case) and answers with a bearer token and the user object. Needs no token.")
        .Accepts<RegisterRequest>("application/json")
        .Produces<AuthResponse>(201)
        .ProducesProblem(400)
        .ProducesProblem(409)
        .ProducesProblem(413)
        .ProducesProblem(415);

        group.MapPost("/login", async (HttpRequest request, IUserStore users, PasswordService passwords, TokenService tokens, LoginThrottle throttle, CancellationToken ct) =>
        {
            var body = await JsonBody.ReadAsync(request, ChatJson.Wire.LoginRequest);
            // The client address is the connection's, or X-Forwarded-For's from a trusted proxy (TrustedProxies).
            using var attempt = await throttle.BeginAsync(body.Username, request.HttpContext.Connection.RemoteIpAddress, ct);
            var found = await users.FindCredentialsAsync(body.Username, ct);
            // A password with U+0000 was never accepted at registration (Validation), but PBKDF2's HMAC pads a key with zero
            // bytes, so "secret\0" would verify as "secret": refused like any wrong password (after the same hash work).
            var verified = passwords.Verify(found?.PasswordHash, body.Password);
            if (!verified || body.Password?.Contains('\0') == true)
            {
                await attempt.FailedAsync(found?.User.Username);
                throw new ChatException(401, ErrorCodes.InvalidCredentials, "Wrong username or password.");
            }
            var token = await tokens.IssueAsync(found!.Value.User.Id, ct);
            attempt.Succeeded(found.Value.User.Username);
            return TypedResults.Json(new AuthResponse(token, found.Value.User.ToDto()), ChatJson.Wire.AuthResponse);
        })
        .WithName("login")
        .WithSummary("Log in and get a new token")
        .WithDescription("Checks the password and answers with a new bearer token. Failed logins are throttled per (username, client address): 429 with Retry-After (see protocol.md, Login throttle). Needs no token.")
        .Accepts<LoginRequest>("application/json")
        .Produces<AuthResponse>()
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(413)
        .ProducesProblem(415)
        .ProducesProblem(429);

        group.MapPost("/logout", async (HttpContext http, TokenService tokens, ISessionSignals signals, CancellationToken ct) =>
        {
            var tokenId = http.User.TokenId();
            await tokens.RevokeAsync(tokenId, ct);
            // Every node closes the token's sockets (contract section 5).
            signals.TokenRevoked(http.User.UserId(), tokenId);
            return TypedResults.NoContent();
        })
        .RequireAuthorization()
        .WithName("logout")
        .WithSummary("Revoke the caller's token")
        .WithDescription("The token stops working at once; WebSockets opened with it are closed with 1008.")
        .Produces(204)
        .ProducesProblem(401);

        return app;
    }
}
