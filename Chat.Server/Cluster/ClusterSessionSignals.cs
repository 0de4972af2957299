using Chat.Server.Realtime;

namespace Chat.Server.Cluster;

/// <summary>Session signals for every node: acted on here, and published on the bus for the others (<see cref="BusListener"/>).</summary>
public sealed class ClusterSessionSignals(LocalSessionSignals local, RedisBackplane backplane) : ISessionSignals
{
    public void TokenRevoked(long userId, long tokenId)
    {
        local.TokenRevoked(userId, tokenId);
        backplane.Publish(BusCodec.TokenRevoked(backplane.NodeId, userId, tokenId));
    }

    public void UserChanged(long userId)
    {
        local.UserChanged(userId);
        backplane.Publish(BusCodec.UserChanged(backplane.NodeId, userId));
    }
}
