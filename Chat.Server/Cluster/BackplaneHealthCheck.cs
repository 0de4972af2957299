using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Cluster;

/// <summary>
/// Readiness of the Redis backplane: degraded (still ready, 200) while Redis is unreachable or failing, because sends are
/// still stored and acknowledged then and the frames other nodes missed are delivered when it is back (contract section
/// 5); taking every node out of a load balancer for a Redis outage would turn a delivery delay into downtime.
/// </summary>
public sealed class BackplaneHealthCheck(RedisBackplane redis) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(redis.IsUsable
            ? HealthCheckResult.Healthy()
            : HealthCheckResult.Degraded("The Redis backplane is unreachable: messages are stored, delivery to other nodes waits for it."));
}
