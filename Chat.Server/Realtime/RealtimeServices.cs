using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>WebSockets: the registry, delivery and fan-out, sessions, frame handling and the per-second sweeper.</summary>
public static class RealtimeServices
{
    public static IServiceCollection AddChatRealtime(this IServiceCollection services)
    {
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<IDelivery, LocalDelivery>();
        services.AddSingleton<ICommitListener, MessageDispatcher>();
        services.AddSingleton<PresenceNotifier>();
        services.AddSingleton<ClientFrameHandler>();
        services.AddSingleton<ChatSession>();
        services.AddSingleton<OutboundBudget>();
        services.AddHostedService<ConnectionSweeper>();
        return services;
    }
}
