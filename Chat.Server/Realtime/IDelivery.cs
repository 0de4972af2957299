namespace Chat.Server.Realtime;

/// <summary>
/// Delivers frames to every socket a user has open. The in-process implementation writes to the local registry; the
/// cluster's (<see cref="Cluster.ClusterDelivery"/>) also forwards the serialized bytes to every other node through the
/// backplane, without touching the code that sends.
/// </summary>
public interface IDelivery
{
    /// <summary>A frame outside the message stream (<c>typing</c>), to every socket of the user.</summary>
    void SendToUser(long userId, OutboundFrame frame);

    /// <summary>
    /// A committed batch's frames. Batches are published in commit order; a node releases them to its sockets in stream
    /// position order (contract, "Delivery guarantees").
    /// </summary>
    void Publish(StreamBatch batch);
}

/// <summary>Single-node delivery: straight into the local registry's socket queues (one writer, so commit order is position order).</summary>
public sealed class LocalDelivery(ConnectionRegistry registry) : IDelivery
{
    public void SendToUser(long userId, OutboundFrame frame) => registry.SendToUser(userId, frame);

    public void Publish(StreamBatch batch) => batch.DeliverLocally(registry);
}
