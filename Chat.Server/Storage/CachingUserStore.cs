using System.Collections.Concurrent;

namespace Chat.Server.Storage;

/// <summary>
/// Keeps recently used user rows in memory: every send looks up both participants, and those rows
/// rarely change. Local changes replace the entry at once; entries expire after <see cref="Ttl"/> so a
/// change made by another node shows up within that time.
/// </summary>
public sealed class CachingUserStore(IUserStore inner, TimeProvider clock) : IUserStore
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(30);
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<long, (UserRow User, DateTimeOffset Expires)> _byId = new();
    private readonly ConcurrentDictionary<string, long> _idByName = new(StringComparer.Ordinal);

    /// <summary>Drops the user's cached row: the next read goes to the database (another node changed the profile).</summary>
    public void Forget(long id) => _byId.TryRemove(id, out _);

    /// <summary>Drops every cached row (the bus may have lost profile changes while Redis was unreachable).</summary>
    public void ForgetAll() => _byId.Clear();

    public async Task<UserRow?> FindByIdAsync(long id, CancellationToken ct)
    {
        if (_byId.TryGetValue(id, out var hit) && hit.Expires > clock.GetUtcNow()) return hit.User;
        return Remember(await inner.FindByIdAsync(id, ct));
    }

    public async Task<UserRow?> FindByUsernameAsync(string username, CancellationToken ct)
    {
        if (_idByName.TryGetValue(UserStore.UsernameKey(username), out var id)
            && _byId.TryGetValue(id, out var hit) && hit.Expires > clock.GetUtcNow())
            return hit.User;
        return Remember(await inner.FindByUsernameAsync(username, ct));
    }

    public async Task<UserRow?> CreateAsync(string username, string passwordHash, string fullName, string email, CancellationToken ct) =>
        Remember(await inner.CreateAsync(username, passwordHash, fullName, email, ct));

    public async Task<UserRow> UpdateProfileAsync(long id, string? fullName, string? email, CancellationToken ct) =>
        Remember(await inner.UpdateProfileAsync(id, fullName, email, ct))!;

    public async Task<UserRow> SetAvatarAsync(long id, string contentType, byte[] data, CancellationToken ct) =>
        Remember(await inner.SetAvatarAsync(id, contentType, data, ct))!;

    public async Task<UserRow> DeleteAvatarAsync(long id, CancellationToken ct) =>
        Remember(await inner.DeleteAvatarAsync(id, ct))!;

    public Task<(UserRow User, string PasswordHash)?> FindCredentialsAsync(string username, CancellationToken ct) =>
        inner.FindCredentialsAsync(username, ct);

    public Task<IReadOnlyList<UserRow>> SearchAsync(long searcherId, string query, int limit, CancellationToken ct) =>
        inner.SearchAsync(searcherId, query, limit, ct);

    public Task<(string ContentType, byte[] Data, long Version)?> GetAvatarAsync(string username, CancellationToken ct) =>
        inner.GetAvatarAsync(username, ct);

    private UserRow? Remember(UserRow? user)
    {
        if (user is null) return null;
        if (_byId.Count >= MaxEntries)
        {
            _byId.Clear();
            _idByName.Clear();
        }
        _byId[user.Id] = (user, clock.GetUtcNow() + Ttl);
        _idByName[UserStore.UsernameKey(user.Username)] = user.Id;
        return user;
    }
}
