using System.Security.Cryptography;
using System.Text;
using Chat.Server.Storage;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Chat.Server.Auth;

/// <summary>
/// Issues opaque bearer tokens (256 random bits) and resolves them. Only a SHA-256 of each token is
/// stored: the token itself has full entropy, so a fast hash is enough to make a leaked table useless.
/// </summary>
public sealed class TokenService(ITokenStore tokens, IOptions<ChatOptions> options, TimeProvider clock)
{
    public async Task<string> IssueAsync(long userId, CancellationToken ct)
    {
        var token = WebEncoders.Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        await tokens.CreateAsync(userId, Hash(token), clock.GetUtcNow() + options.Value.TokenLifetime, ct);
        return token;
    }

    /// <summary>The live token row, or null when unknown, expired or revoked.</summary>
    public async Task<TokenRow?> ResolveAsync(string token, CancellationToken ct)
    {
        if (token.Length is 0 or > 256) return null;
        var row = await tokens.FindAsync(Hash(token), ct);
        if (row is null || row.RevokedAt is not null || row.ExpiresAt <= clock.GetUtcNow().ToUnixTimeSeconds()) return null;
        return row;
    }

    public Task RevokeAsync(long tokenId, CancellationToken ct) => tokens.RevokeAsync(tokenId, ct);

    private static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));
}
