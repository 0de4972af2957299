using Chat.Server.Infrastructure;
using Chat.Server.Realtime;

namespace Chat.Server.Cluster;

/// <summary>
/// Cluster membership (contract section 5): with <c>ConnectionStrings:Redis</c> set, delivery, presence, session signals
/// and the send rate limit span every node; without it nothing here is registered and delivery stays in-process
/// (<see cref="RealtimeServices"/> adds the single-node parts). A cluster needs the shared store:
/// <c>Chat:Database:Provider=Postgres</c>.
/// </summary>
public static class ClusterServices
{
    public static IServiceCollection AddChatCluster(this IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis"))) return services;
        if (!string.Equals(configuration["Chat:Database:Provider"], "Postgres", StringComparison.OrdinalIgnoreCase))
            throw new InvalidSettingException("Chat:Database:Provider", "Postgres when ConnectionStrings:Redis is set (the nodes of a cluster share one PostgreSQL database)");

        services.AddSingleton<RedisBackplane>();
        services.AddHealthChecks().AddCheck<BackplaneHealthCheck>("backplane", tags: [Hosting.HealthEndpoint.ReadyTag]);
        // Before the sequencer and heartbeat start: it reads the cluster id and subscribes.
        services.AddHostedService<BusListener>();
        services.AddSingleton<StreamSequencer>();
        services.AddHostedService(sp => sp.GetRequiredService<StreamSequencer>());
        services.AddSingleton<ClusterPresence>();
        services.AddSingleton<IPresence>(sp => sp.GetRequiredService<ClusterPresence>());
        services.AddHostedService(sp => sp.GetRequiredService<ClusterPresence>());
        services.AddHostedService<NodeHeartbeat>();
        services.AddSingleton<SessionReconciler>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionReconciler>());
        services.AddSingleton<IDelivery, ClusterDelivery>();
        services.AddSingleton<LocalSessionSignals>();
        services.AddSingleton<ISessionSignals, ClusterSessionSignals>();
        return services;
    }
}
