using Chat.Server.Infrastructure;
using Chat.Server.Realtime;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Chat.Server.Observability;

/// <summary>
/// The start-up and shutdown log events (and, once the metrics pipeline listens, the zero series of
/// <see cref="ChatMetrics.ExportZeros"/>): <c>ServerStarted</c> once Kestrel listens (addresses, store, cluster or not,
/// where <c>/metrics</c> is served), <c>ServerStopping</c> when shutdown begins (with the sockets still open) and
/// <c>ServerStopped</c> when every service has stopped.
/// </summary>
public sealed partial class LifecycleLog(
    IServer server,
    ConnectionRegistry registry,
    IOptions<ChatOptions> options,
    IConfiguration configuration,
    ChatMetrics metrics,
    ILogger<LifecycleLog> logger) : IHostedLifecycleService
{
    public Task StartedAsync(CancellationToken cancellationToken)
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses;
        var o = options.Value;
        var metricsAt = !o.Metrics.Enabled ? "off"
            : o.Metrics.Port == 0 ? $"{ObservabilityServices.MetricsPath} on every address"
            : $"{ObservabilityServices.MetricsPath} on port {o.Metrics.Port} only";
        // A metrics port no address listens on cannot work: /metrics would be answered nowhere. Refused like any other
        // setting that cannot work (contract section 1), once the addresses are known (they may come from --urls,
        // ASPNETCORE_URLS or Kestrel:Endpoints).
        if (o.Metrics.Enabled && o.Metrics.Port != 0 && addresses is { Count: > 0 }
            && !addresses.Any(a => Uri.TryCreate(a.Replace("://+", "://localhost").Replace("://*", "://localhost"), UriKind.Absolute, out var uri) && uri.Port == o.Metrics.Port))
            throw new InvalidSettingException("Chat:Metrics:Port",
                $"the port of a listen address, so /metrics is answered somewhere (add e.g. http://127.0.0.1:{o.Metrics.Port} to --urls); none of {string.Join(' ', addresses)} has port {o.Metrics.Port}");
        metrics.ExportZeros();
        Log.ServerStarted(logger, addresses is { Count: > 0 } ? string.Join(' ', addresses) : "(none: in-process test server)",
            o.Database.Provider, !string.IsNullOrEmpty(configuration.GetConnectionString("Redis")), metricsAt);
        return Task.CompletedTask;
    }

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        Log.ServerStopping(logger, registry.Count);
        return Task.CompletedTask;
    }

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        Log.ServerStopped(logger);
        return Task.CompletedTask;
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private static partial class Log
    {
        [LoggerMessage(EventId = ChatEventIds.ServerStarted, EventName = "ServerStarted", Level = LogLevel.Information,
            Message = "Chat server listening on {Addresses}; store {Store}; cluster {Cluster}; metrics {Metrics}")]
        public static partial void ServerStarted(ILogger logger, string addresses, string store, bool cluster, string metrics);

        [LoggerMessage(EventId = ChatEventIds.ServerStopping, EventName = "ServerStopping", Level = LogLevel.Information,
            Message = "Chat server stopping: closing {OpenSockets} sockets with 1001 after their in-flight sends")]
        public static partial void ServerStopping(ILogger logger, int openSockets);

        [LoggerMessage(EventId = ChatEventIds.ServerStopped, EventName = "ServerStopped", Level = LogLevel.Information,
            Message = "Chat server stopped")]
        public static partial void ServerStopped(ILogger logger);
    }
}
