using Chat.Protocol;
using Chat.Server.Infrastructure;
using Chat.Server.Storage;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Hosting;

/// <summary>
/// <c>GET /healthz</c> (contract section 1) through the framework's health checks: 200 <c>{"status":"healthy"}</c> when
/// every check passes, else 503 problem details with code <c>internal</c>.
/// </summary>
public static class HealthEndpoint
{
    public static IServiceCollection AddChatHealth(this IServiceCollection services)
    {
        // The database check is the store's own (AddChatStorage).
        services.AddHealthChecks();
        return services;
    }

    public static IEndpointRouteBuilder MapChatHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions
        {
            ResultStatusCodes = { [HealthStatus.Healthy] = 200, [HealthStatus.Degraded] = 200, [HealthStatus.Unhealthy] = 503 },
            ResponseWriter = WriteAsync,
        }).WithTags("Health");
        return app;
    }

    private static async Task WriteAsync(HttpContext http, HealthReport report)
    {
        if (report.Status == HealthStatus.Unhealthy)
        {
            var detail = report.Entries.Values.Select(e => e.Description).FirstOrDefault(d => d is not null) ?? "Not healthy.";
            await Problems.Create(503, ErrorCodes.Internal, detail).ExecuteAsync(http);
            return;
        }
        http.Response.ContentType = "application/json";
        await http.Response.WriteAsync("{\"status\":\"healthy\"}");
    }
}
