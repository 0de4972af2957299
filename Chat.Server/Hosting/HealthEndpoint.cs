using Chat.Protocol;
using Chat.Server.Infrastructure;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Hosting;

/// <summary>
/// Health endpoints through the framework's health checks, each answering 200 <c>{"status":"healthy"}</c> (or
/// <c>"degraded"</c>, still 200) when its checks pass, else 503 problem details with code <c>internal</c> and the failing
/// check's reason as <c>detail</c>:
/// <list type="bullet">
/// <item><c>GET /healthz</c> (contract section 1): the database can be reached and written.</item>
/// <item><c>GET /healthz/live</c>: the process answers requests; no check (an orchestrator restarts a process that fails it,
/// and a database outage is not cured by a restart).</item>
/// <item><c>GET /healthz/ready</c>: the database check, not draining (<see cref="Draining"/>) and, in a cluster, the Redis
/// backplane (degraded, not unready, while it is down: sends still work then).</item>
/// </list>
/// </summary>
public static class HealthEndpoint
{
    /// <summary>Tag of the checks behind <c>/healthz</c> (the database).</summary>
    public const string DatabaseTag = "database";

    /// <summary>Tag of the checks behind <c>/healthz/ready</c>.</summary>
    public const string ReadyTag = "ready";

    public static IServiceCollection AddChatHealth(this IServiceCollection services)
    {
        // The database check is the store's own (AddChatStorage); the backplane's the cluster's (AddChatCluster).
        services.AddSingleton<Draining>();
        services.AddHealthChecks().AddCheck<DrainingHealthCheck>("draining", tags: [ReadyTag]);
        return services;
    }

    public static IEndpointRouteBuilder MapChatHealth(this IEndpointRouteBuilder app)
    {
        Map(app, "/healthz", check => check.Tags.Contains(DatabaseTag));
        Map(app, "/healthz/live", _ => false);
        Map(app, "/healthz/ready", check => check.Tags.Contains(ReadyTag));
        return app;
    }

    private static void Map(IEndpointRouteBuilder app, string path, Func<HealthCheckRegistration, bool> predicate) =>
        app.MapHealthChecks(path, new HealthCheckOptions
        {
            Predicate = predicate,
            ResultStatusCodes = { [HealthStatus.Healthy] = 200, [HealthStatus.Degraded] = 200, [HealthStatus.Unhealthy] = 503 },
            ResponseWriter = WriteAsync,
        }).WithTags("Health");

    private static async Task WriteAsync(HttpContext http, HealthReport report)
    {
        if (report.Status == HealthStatus.Unhealthy)
        {
            var detail = report.Entries.Values.Where(e => e.Status == HealthStatus.Unhealthy).Select(e => e.Description)
                .FirstOrDefault(d => d is not null) ?? "Not healthy.";
            await Problems.Create(503, ErrorCodes.Internal, detail).ExecuteAsync(http);
            return;
        }
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync(report.Status == HealthStatus.Degraded ? "{\"status\":\"degraded\"}" : "{\"status\":\"healthy\"}");
    }
}
