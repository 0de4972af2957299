using System.Security.Claims;
using System.Text.Encodings.Web;
using Chat.Protocol;
using Chat.Server.Infrastructure;
using Chat.Server.Storage;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Extensions.Options;

namespace Chat.Server.Auth;

/// <summary>
/// Authenticates <c>Authorization: Bearer &lt;token&gt;</c>, or <c>?token=</c> on <c>/ws</c> only (browsers
/// cannot set headers on a WebSocket), and answers failures with 401 problem details.
/// </summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TokenService tokens) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Bearer";
    public const string TokenIdClaim = "tid";
    public const string ExpiresClaim = "exp";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var token = ReadToken(Request);
        if (token is null) return AuthenticateResult.NoResult();
        TokenRow? row;
        try
        {
            row = await tokens.ResolveAsync(token, Context.RequestAborted);
        }
        catch (System.Data.Common.DbException)
        {
            // Contract section 5: where authentication itself needs the database and cannot reach it, 503 internal.
            throw new ChatException(503, ErrorCodes.Internal, "The database cannot be reached; try again shortly.");
        }
        if (row is null) return AuthenticateResult.Fail("Invalid token.");
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, row.UserId.ToString()),
                new Claim(TokenIdClaim, row.Id.ToString()),
                new Claim(ExpiresClaim, row.ExpiresAt.ToString()),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = 401;
        Response.Headers.WWWAuthenticate = "Bearer";
        Context.Features.Get<IStatusCodePagesFeature>()?.Enabled = false;
        await Problems.Create(401, ErrorCodes.Unauthorized, "A valid bearer token is required.").ExecuteAsync(Context);
    }

    internal static string? ReadToken(HttpRequest request) =>
        ChooseToken(request.Headers.Authorization.ToString(),
            () => request.Path.StartsWithSegments("/ws") && request.Query.TryGetValue("token", out var q) ? q.ToString() : null);

    /// <summary>
    /// The one rule for where a token comes from, shared with the WebSocket fast path: a bearer header wins;
    /// otherwise <paramref name="queryToken"/> (the caller offers <c>?token=</c> on <c>/ws</c> only).
    /// </summary>
    internal static string? ChooseToken(string? authorization, Func<string?> queryToken) =>
        authorization is not null && authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? authorization["Bearer ".Length..].Trim()
            : queryToken();
}

/// <summary>Reads the authenticated caller from claims.</summary>
public static class CallerExtensions
{
    public static long UserId(this ClaimsPrincipal user) => long.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier)!);
    public static long TokenId(this ClaimsPrincipal user) => long.Parse(user.FindFirstValue(TokenAuthenticationHandler.TokenIdClaim)!);
    public static DateTimeOffset TokenExpires(this ClaimsPrincipal user) =>
        DateTimeOffset.FromUnixTimeSeconds(long.Parse(user.FindFirstValue(TokenAuthenticationHandler.ExpiresClaim)!));
}
