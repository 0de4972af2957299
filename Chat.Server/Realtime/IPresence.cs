namespace Chat.Server.Realtime;

/// <summary>
/// Presence (contract section 3, <c>presence</c>): a user is online while any socket of theirs is open (on any node, in a
/// cluster). One node: <see cref="PresenceNotifier"/>; a cluster: <see cref="Cluster.ClusterPresence"/>.
/// </summary>
public interface IPresence
{
    /// <summary>
    /// The user's first socket on this node opened or its last one closed: tells the user's conversation partners the
    /// user's state as it is now (never an error: a failure is logged, presence is best effort).
    /// </summary>
    Task AnnounceAsync(long userId, string username);

    /// <summary>One <c>presence</c> (online) frame per partner online right now, for a socket that just connected.</summary>
    Task<IReadOnlyList<OutboundFrame>> SnapshotAsync(long userId, CancellationToken ct);
}
