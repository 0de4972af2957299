using Chat.Server.Realtime;

namespace Chat.Server.Cluster;

/// <summary>
/// Delivery across the cluster: this node's sockets directly, every other node's through the bus, as the bytes serialized
/// here. Stream batches go through this node's <see cref="StreamSequencer"/> like everyone else's, so local and remote
/// frames leave in one stream position order.
/// </summary>
public sealed class ClusterDelivery(ConnectionRegistry registry, StreamSequencer sequencer, RedisBackplane backplane, Observability.ChatMetrics metrics) : IDelivery
{
    public void SendToUser(long userId, OutboundFrame frame)
    {
        registry.SendToUser(userId, frame);
        backplane.Publish(BusCodec.UserFrame(backplane.NodeId, userId, frame));
    }

    public void Publish(StreamBatch batch)
    {
        backplane.Publish(BusCodec.Batch(backplane.NodeId, batch));
        metrics.BackplanePublished();
        sequencer.Local(batch);
    }
}
