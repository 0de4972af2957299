using Dapper;
using System.Data.Common;

namespace Chat.Server.Storage;

/// <summary>Users, avatars, the search index and tokens, for both engines (one SQL text each, in the subset both accept).</summary>
public sealed class UserStore(IChatDatabase db, TimeProvider clock) : IUserStore, ITokenStore
{
    // The page is chosen from (username_norm, user_id) pairs alone (a covering index range scan plus the
    // email match), and only its rows are read from users.
    internal const string SearchSql =
        """
        SELECT u.id, u.username, u.full_name, u.email, u.avatar_version
        FROM (
            SELECT username_norm, user_id FROM user_search_terms
            WHERE is_phrase IN (0, @phrase) AND term >= @q AND term < @upper AND user_id <> @searcherId
            UNION
            SELECT username_norm, id FROM users WHERE email_norm = @q AND id <> @searcherId
            ORDER BY username_norm
            LIMIT @limit
        ) page
        JOIN users u ON u.id = page.user_id
        ORDER BY page.username_norm
        """;

    private const string UserColumns = "id, username, full_name, email, avatar_version";

    /// <summary>
    /// The key that makes usernames unique ignoring case and finds them (<c>username_norm</c>). Usernames are ASCII
    /// by pattern, so lower case is all it takes; search terms and emails use <see cref="SearchFold"/> instead.
    /// </summary>
    public static string UsernameKey(string username) => username.ToLowerInvariant();

    /// <summary>The parameters of <see cref="SearchSql"/>: the query folded as the terms were.</summary>
    internal static object SearchParameters(long searcherId, string query, int limit)
    {
        var q = SearchFold.Fold(query);
        // Every indexed term that starts with q lies in [q, q + U+10FFFF): an index range scan, no LIKE escaping.
        return new { searcherId, q, upper = q + char.ConvertFromUtf32(0x10FFFF), phrase = SearchFold.IsPhrase(q) ? 1 : 0, limit };
    }

    internal const string InsertSearchTermSql =
        "INSERT INTO user_search_terms (term, user_id, username_norm, is_phrase) VALUES (@term, @userId, @usernameNorm, @isPhrase)";

    /// <summary>The rows of <see cref="InsertSearchTermSql"/> for one user (also used by migration 4 to re-index).</summary>
    internal static IEnumerable<object> SearchTermRows(long userId, string username, string fullName)
    {
        var usernameNorm = UsernameKey(username);
        return SearchFold.Terms(username, fullName).Select(term => new { term, userId, usernameNorm, isPhrase = SearchFold.IsPhrase(term) ? 1 : 0 });
    }

    public async Task<UserRow?> CreateAsync(string username, string passwordHash, string fullName, string email, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        try
        {
            var id = await connection.ExecuteScalarAsync<long>(
                """
                INSERT INTO users (username, username_norm, password_hash, full_name, email, email_norm, created_at)
                VALUES (@username, @norm, @passwordHash, @fullName, @email, @emailNorm, @now)
                RETURNING id
                """,
                new { username, norm = UsernameKey(username), passwordHash, fullName, email, emailNorm = SearchFold.Fold(email), now = clock.GetUtcNow().ToUnixTimeSeconds() }, tx);
            await WriteSearchTermsAsync(connection, tx, id, username, fullName);
            await tx.CommitAsync(ct);
            return new UserRow { Id = id, Username = username, FullName = fullName, Email = email };
        }
        catch (Exception e) when (db.IsConstraintViolation(e))
        {
            return null;
        }
    }

    public async Task<UserRow?> FindByIdAsync(long id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE id = @id", new { id });
    }

    public async Task<UserRow?> FindByUsernameAsync(string username, CancellationToken ct)
    {
        // Usernames match a pattern (Validation): anything else names nobody, and is not sent to the database.
        if (!Auth.Validation.IsValidUsername(username)) return null;
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<UserRow>($"SELECT {UserColumns} FROM users WHERE username_norm = @norm", new { norm = UsernameKey(username) });
    }

    public async Task<(UserRow User, string PasswordHash)?> FindCredentialsAsync(string username, CancellationToken ct)
    {
        // Usernames match a pattern (Validation): anything else names nobody, and is not sent to the database.
        if (!Auth.Validation.IsValidUsername(username)) return null;
        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<CredentialRow>(
            $"SELECT {UserColumns}, password_hash FROM users WHERE username_norm = @norm", new { norm = UsernameKey(username) });
        return row is null ? null : (row, row.PasswordHash);
    }

    public async Task<UserRow> UpdateProfileAsync(long id, string? fullName, string? email, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var user = await connection.QuerySingleAsync<UserRow>(
            $"""
            UPDATE users SET
                full_name = COALESCE(@fullName, full_name),
                email = COALESCE(@email, email),
                email_norm = COALESCE(@emailNorm, email_norm)
            WHERE id = @id
            RETURNING {UserColumns}
            """,
            new { id, fullName, email, emailNorm = email is null ? null : SearchFold.Fold(email) }, tx);
        if (fullName is not null)
        {
            await connection.ExecuteAsync("DELETE FROM user_search_terms WHERE user_id = @id", new { id }, tx);
            await WriteSearchTermsAsync(connection, tx, id, user.Username, user.FullName);
        }
        await tx.CommitAsync(ct);
        return user;
    }

    public async Task<IReadOnlyList<UserRow>> SearchAsync(long searcherId, string query, int limit, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        var rows = await connection.QueryAsync<UserRow>(SearchSql, SearchParameters(searcherId, query, limit));
        return rows.AsList();
    }

    public async Task<UserRow> SetAvatarAsync(long id, string contentType, byte[] data, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(
            """
            INSERT INTO avatars (user_id, content_type, data) VALUES (@id, @contentType, @data)
            ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data
            """,
            new { id, contentType, data }, tx);
        var user = await connection.QuerySingleAsync<UserRow>(
            $"UPDATE users SET avatar_version = ABS(avatar_version) + 1 WHERE id = @id RETURNING {UserColumns}", new { id }, tx);
        await tx.CommitAsync(ct);
        return user;
    }

    public async Task<UserRow> DeleteAvatarAsync(long id, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync("DELETE FROM avatars WHERE user_id = @id", new { id }, tx);
        // A non-positive avatar_version means "no picture". Negating (not zeroing) keeps the counter,
        // so the next upload gets a version no client has cached.
        var user = await connection.QuerySingleAsync<UserRow>(
            $"UPDATE users SET avatar_version = -ABS(avatar_version) WHERE id = @id RETURNING {UserColumns}", new { id }, tx);
        await tx.CommitAsync(ct);
        return user;
    }

    public async Task<(string ContentType, byte[] Data, long Version)?> GetAvatarAsync(string username, CancellationToken ct)
    {
        // Usernames match a pattern (Validation): anything else names nobody, and is not sent to the database.
        if (!Auth.Validation.IsValidUsername(username)) return null;
        await using var connection = await db.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<AvatarRow>(
            """
            SELECT a.content_type, a.data, u.avatar_version AS version
            FROM users u JOIN avatars a ON a.user_id = u.id
            WHERE u.username_norm = @norm
            """,
            new { norm = UsernameKey(username) });
        return row is null ? null : (row.ContentType, row.Data, row.Version);
    }

    public async Task<long> CreateAsync(long userId, byte[] tokenHash, DateTimeOffset expiresAt, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(
            "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (@userId, @tokenHash, @now, @expires) RETURNING id",
            new { userId, tokenHash, now = clock.GetUtcNow().ToUnixTimeSeconds(), expires = expiresAt.ToUnixTimeSeconds() });
    }

    public async Task<TokenRow?> FindAsync(byte[] tokenHash, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<TokenRow>(
            "SELECT id, user_id, expires_at, revoked_at FROM tokens WHERE token_hash = @tokenHash", new { tokenHash });
    }

    public async Task RevokeAsync(long tokenId, CancellationToken ct)
    {
        await using var connection = await db.OpenConnectionAsync(ct);
        await connection.ExecuteAsync("UPDATE tokens SET revoked_at = @now WHERE id = @tokenId AND revoked_at IS NULL",
            new { tokenId, now = clock.GetUtcNow().ToUnixTimeSeconds() });
    }

    private static Task WriteSearchTermsAsync(DbConnection connection, DbTransaction tx, long userId, string username, string fullName) =>
        connection.ExecuteAsync(InsertSearchTermSql, SearchTermRows(userId, username, fullName), tx);

    private sealed class CredentialRow
    {
        public long Id { get; set; }
        public string Username { get; set; } = "";
        public string FullName { get; set; } = "";
        public string Email { get; set; } = "";
        public long AvatarVersion { get; set; }
        public string PasswordHash { get; set; } = "";
        public static implicit operator UserRow(CredentialRow r) => new() { Id = r.Id, Username = r.Username, FullName = r.FullName, Email = r.Email, AvatarVersion = r.AvatarVersion };
    }

    private sealed class AvatarRow
    {
        public string ContentType { get; set; } = "";
        public byte[] Data { get; set; } = [];
        public long Version { get; set; }
    }
}
