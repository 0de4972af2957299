using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>WebSockets: the registry, the publisher (stream position, fan-out, acks), delivery, sessions, frame handling and the per-second sweeper.</summary>
public static class RealtimeServices
{
    public static IServiceCollection AddChatRealtime(this IServiceCollection services)
    {
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<IDelivery, LocalDelivery>();
        services.AddSingleton<MessagePublisher>();
        services.AddHostedService(sp => sp.GetRequiredService<MessagePublisher>());
        services.AddSingleton<PresenceNotifier>();
        services.AddSingleton<ClientFrameHandler>();
        services.AddSingleton<ChatSession>();
        services.AddSingleton<OutboundBudget>();
        services.AddHostedService<ConnectionSweeper>();
        services.AddHostedService<SocketShutdown>();
        return services;
    }
}
