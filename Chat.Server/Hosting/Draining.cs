using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Hosting;

/// <summary>
/// Whether the server is stopping: set by <see cref="Realtime.SocketShutdown"/> as the host begins to stop (SIGTERM,
/// <c>StopAsync</c>), before any socket is closed. While set, <c>/healthz/ready</c> answers 503 so a load balancer stops sending new clients here; everything
/// already here keeps working until <see cref="ChatOptions.DrainDelay"/> has passed (see
/// <see cref="Realtime.SocketShutdown"/>).
/// </summary>
public sealed class Draining
{
    private volatile bool _draining;

    /// <summary>True from the start of the host's stop on.</summary>
    public bool IsDraining => _draining;

    /// <summary>Marks the server as draining; never undone (a stopped host does not start again).</summary>
    public void Begin() => _draining = true;
}

/// <summary>Readiness check: unhealthy while <see cref="Draining.IsDraining"/>.</summary>
public sealed class DrainingHealthCheck(Draining draining) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default) =>
        Task.FromResult(draining.IsDraining
            ? HealthCheckResult.Unhealthy("The server is shutting down (draining).")
            : HealthCheckResult.Healthy());
}
