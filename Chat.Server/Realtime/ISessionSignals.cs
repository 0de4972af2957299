namespace Chat.Server.Realtime;

/// <summary>
/// Changes to sessions and users that every node must act on (contract section 5): a revoked token's sockets close, a
/// changed profile is read again. On one node (<see cref="LocalSessionSignals"/>) that is this node alone; in a cluster
/// (<see cref="Cluster.ClusterSessionSignals"/>) every node hears it through the bus.
/// </summary>
public interface ISessionSignals
{
    /// <summary>Closes the token's sockets (1008, "token revoked") wherever they are.</summary>
    void TokenRevoked(long userId, long tokenId);

    /// <summary>The user's profile or avatar changed: every node reads the row again (within a second).</summary>
    void UserChanged(long userId);
}

/// <summary>One node: its own sockets; its user cache already holds the change.</summary>
public sealed class LocalSessionSignals(ConnectionRegistry registry) : ISessionSignals
{
    public void TokenRevoked(long userId, long tokenId) =>
        registry.CloseToken(userId, tokenId, Chat.Protocol.CloseCodes.PolicyViolation, "token revoked");

    public void UserChanged(long userId) { }
}
