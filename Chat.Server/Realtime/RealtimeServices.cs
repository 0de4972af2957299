using Microsoft.Extensions.Options;
using Chat.Server.Storage;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Chat.Server.Realtime;

/// <summary>
/// WebSockets: the registry, the publisher (stream position, fan-out, acks), delivery, presence, session signals,
/// sessions, frame handling and the per-second sweeper. Delivery, presence and session signals are this node's alone
/// unless the cluster registered its own first (<see cref="Cluster.ClusterServices"/>).
/// </summary>
public static class RealtimeServices
{
    public static IServiceCollection AddChatRealtime(this IServiceCollection services)
    {
        services.AddSingleton<ConnectionRegistry>();
        services.TryAddSingleton<IDelivery, LocalDelivery>();
        services.TryAddSingleton<LocalSessionSignals>();
        services.TryAddSingleton<ISessionSignals>(sp => sp.GetRequiredService<LocalSessionSignals>());
        services.AddSingleton<MessagePublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<MessagePublisher>());
        services.TryAddSingleton<IPresence, PresenceNotifier>();
        services.AddSingleton<ClientFrameHandler>();
        services.AddSingleton<ChatSession>();
        services.AddSingleton<OutboundBudget>();
        services.AddHostedService<ConnectionSweeper>();
        services.AddHostedService<SocketShutdown>();
        // The host cancels a stop that outlasts its ShutdownTimeout (default 30 s): leave room for the drain delay and the
        // sockets' closing handshakes, plus a margin for in-flight sends.
        services.AddOptions<HostOptions>().PostConfigure<IOptions<ChatOptions>>((host, chat) =>
        {
            var needed = chat.Value.DrainDelay + chat.Value.CloseTimeout * 2 + TimeSpan.FromSeconds(5);
            if (host.ShutdownTimeout < needed) host.ShutdownTimeout = needed;
        });
        return services;
    }
}
