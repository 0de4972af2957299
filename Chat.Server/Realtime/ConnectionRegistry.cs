using System.Collections.Concurrent;

namespace Chat.Server.Realtime;

/// <summary>
/// The seed's <c>chat_&lt;username&gt;</c> rooms: user id (usernames are unique ignoring case) to every open socket of that user.
/// Readers see an immutable array, so sending never takes a lock.
/// </summary>
public sealed class ConnectionRegistry
{
    private readonly ConcurrentDictionary<long, UserSockets> _users = new();
    private int _count;
    private int _online;

    /// <summary>Sockets registered on this node.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Users with at least one socket registered on this node.</summary>
    public int UserCount => Volatile.Read(ref _online);

    /// <summary>
    /// Adds a socket unless its user already has <paramref name="maxPerUser"/> open: the check and the add are one
    /// step under the user's lock, so concurrent upgrades cannot pass the cap together.
    /// </summary>
    /// <param name="first">True when it is the user's first socket (the user just came online).</param>
    /// <returns>False (nothing added) when the user is at the cap.</returns>
    public bool TryAdd(ChatConnection connection, int maxPerUser, out bool first)
    {
        while (true)
        {
            var entry = _users.GetOrAdd(connection.UserId, static _ => new UserSockets());
            lock (entry)
            {
                if (entry.Removed) continue;
                first = false;
                if (entry.Sockets.Length >= maxPerUser) return false;
                entry.Sockets = [.. entry.Sockets, connection];
                Interlocked.Increment(ref _count);
                first = entry.Sockets.Length == 1;
                if (first) Interlocked.Increment(ref _online);
                return true;
            }
        }
    }

    /// <summary>Removes a socket; true when it was the user's last (the user just went offline).</summary>
    public bool Remove(ChatConnection connection)
    {
        if (!_users.TryGetValue(connection.UserId, out var entry)) return false;
        lock (entry)
        {
            var index = Array.IndexOf(entry.Sockets, connection);
            if (index < 0) return false;
            entry.Sockets = [.. entry.Sockets[..index], .. entry.Sockets[(index + 1)..]];
            Interlocked.Decrement(ref _count);
            if (entry.Sockets.Length > 0) return false;
            entry.Removed = true;
            Interlocked.Decrement(ref _online);
            _users.TryRemove(new KeyValuePair<long, UserSockets>(connection.UserId, entry));
            return true;
        }
    }

    public bool IsOnline(long userId) => _users.TryGetValue(userId, out var entry) && entry.Sockets.Length > 0;

    public IReadOnlyList<ChatConnection> SocketsOf(long userId) =>
        _users.TryGetValue(userId, out var entry) ? entry.Sockets : [];

    public void SendToUser(long userId, OutboundFrame frame)
    {
        if (!_users.TryGetValue(userId, out var entry)) return;
        foreach (var socket in entry.Sockets) socket.Send(frame);
    }

    /// <summary>Closes the sockets that were opened with a token (logout).</summary>
    public void CloseToken(long userId, long tokenId, int status, string reason)
    {
        foreach (var socket in SocketsOf(userId))
            if (socket.TokenId == tokenId) socket.Close(status, reason, drain: false, SocketCloseReason.Logout);
    }

    public IEnumerable<ChatConnection> All() => _users.Values.SelectMany(e => e.Sockets);

    /// <summary>Set once the host is stopping; sockets that open after it are closed at once with 1001.</summary>
    public bool IsShuttingDown { get; private set; }

    /// <summary>Closes every socket with 1001 after its in-flight sends are acknowledged.</summary>
    public Task ShutdownAsync(TimeSpan timeout)
    {
        IsShuttingDown = true;
        return Task.WhenAll(All().ToList().Select(c => c.CloseGracefullyAsync(Chat.Protocol.CloseCodes.GoingAway, "server shutting down", timeout, SocketCloseReason.Shutdown)));
    }

    private sealed class UserSockets
    {
        public volatile ChatConnection[] Sockets = [];
        public bool Removed;
    }
}
