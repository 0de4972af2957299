namespace Chat.Server.Storage;

/// <summary>Users, their avatars and the search index.</summary>
public interface IUserStore
{
    /// <summary>Creates a user; returns null when the username is taken (ignoring case).</summary>
    Task<UserRow?> CreateAsync(string username, string passwordHash, string fullName, string email, CancellationToken ct);
    Task<UserRow?> FindByIdAsync(long id, CancellationToken ct);
    Task<UserRow?> FindByUsernameAsync(string username, CancellationToken ct);
    Task<(UserRow User, string PasswordHash)?> FindCredentialsAsync(string username, CancellationToken ct);
    Task<UserRow> UpdateProfileAsync(long id, string? fullName, string? email, CancellationToken ct);
    Task<IReadOnlyList<UserRow>> SearchAsync(long searcherId, string query, int limit, CancellationToken ct);
    Task<UserRow> SetAvatarAsync(long id, string contentType, byte[] data, CancellationToken ct);
    Task<UserRow> DeleteAvatarAsync(long id, CancellationToken ct);
    Task<(string ContentType, byte[] Data, long Version)?> GetAvatarAsync(string username, CancellationToken ct);
}

/// <summary>Opaque bearer tokens, stored only as hashes.</summary>
public interface ITokenStore
{
    Task<long> CreateAsync(long userId, byte[] tokenHash, DateTimeOffset expiresAt, CancellationToken ct);
    Task<TokenRow?> FindAsync(byte[] tokenHash, CancellationToken ct);
    Task RevokeAsync(long tokenId, CancellationToken ct);
}
