namespace Chat.Server.Realtime;

/// <summary>
/// Delivers frames to every socket a user has open. The in-process implementation writes to the local
/// registry; a cross-node backplane can replace it without touching the code that sends.
/// </summary>
public interface IDelivery
{
    void SendToUser(long userId, OutboundFrame frame);
}

/// <summary>Single-node delivery: straight into the local registry's socket queues.</summary>
public sealed class LocalDelivery(ConnectionRegistry registry) : IDelivery
{
    public void SendToUser(long userId, OutboundFrame frame) => registry.SendToUser(userId, frame);
}
