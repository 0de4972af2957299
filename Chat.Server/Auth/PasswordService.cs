using Chat.Server.Storage;
using Microsoft.AspNetCore.Identity;

namespace Chat.Server.Auth;

/// <summary>
/// Salted PBKDF2 (the framework's <see cref="PasswordHasher{TUser}"/>: HMAC-SHA512, 100,000 iterations by default,
/// settable through <see cref="PasswordHasherOptions"/>).
/// </summary>
public sealed class PasswordService(IPasswordHasher<UserRow> hasher)
{
    private static readonly UserRow Nobody = new();
    private string? _dummyHash;

    public string Hash(string password) => hasher.HashPassword(Nobody, password);

    public bool Verify(string? hash, string password)
    {
        // Unknown users still cost one hash, so response time does not reveal which usernames exist.
        if (hash is null)
        {
            hasher.VerifyHashedPassword(Nobody, _dummyHash ??= Hash("not-a-real-password"), password);
            return false;
        }
        return hasher.VerifyHashedPassword(Nobody, hash, password) != PasswordVerificationResult.Failed;
    }
}
