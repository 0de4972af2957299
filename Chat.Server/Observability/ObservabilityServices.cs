using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;

namespace Chat.Server.Observability;

/// <summary>
/// Metrics and the lifecycle log: the server's instruments (<see cref="ChatMetrics"/>), OpenTelemetry collecting them
/// with the framework's own meters, the Prometheus endpoint <c>GET /metrics</c> (<see cref="MetricsOptions"/>), and the
/// start-up and shutdown log events (<see cref="LifecycleLog"/>).
/// </summary>
public static class ObservabilityServices
{
    /// <summary>
    /// The framework's meters exported besides <see cref="ChatMetrics.MeterName"/>: HTTP requests and connections
    /// (Hosting, Kestrel, routing, unhandled exceptions, authentication), the runtime (GC, heap, thread pool, CPU),
    /// DNS, and Npgsql's connection pool when the store is PostgreSQL. A meter that publishes nothing costs nothing.
    /// </summary>
    public static readonly string[] FrameworkMeters =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Microsoft.AspNetCore.Routing",
        "Microsoft.AspNetCore.Diagnostics",
        "Microsoft.AspNetCore.Authentication",
        "Microsoft.AspNetCore.Authorization",
        "System.Runtime",
        "System.Net.NameResolution",
        "Npgsql",
    ];

    /// <summary>
    /// The instruments and the lifecycle log always; OpenTelemetry's meter provider and the Prometheus exporter unless
    /// <c>Chat:Metrics:Enabled</c> is false (then nothing listens and every instrument costs next to nothing).
    /// </summary>
    public static IServiceCollection AddChatObservability(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<ChatMetrics>();
        services.AddHostedService<LifecycleLog>();
        // A value that is not a boolean is refused at start by the options validator (Chat:Metrics:Enabled).
        if (!bool.TryParse(configuration["Chat:Metrics:Enabled"], out var enabled)) enabled = true;
        if (!enabled) return services;
        services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("chat-server"))
            .WithMetrics(metrics => metrics
                .AddMeter(ChatMetrics.MeterName)
                .AddMeter(FrameworkMeters)
                .AddView(StreamOf)
                // Every scrape sees the counts of that moment (the exporter's default keeps an answer for 300 ms).
                .AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0));
        return services;
    }

    /// <summary>
    /// Answers <c>GET /metrics</c> when metrics are on: on every address, or with <see cref="MetricsOptions.Port"/> only on
    /// connections that arrived on that local port (every other one falls through to 404). Middleware rather than an
    /// endpoint, so the port is decided before routing, from the connection and never from the <c>Host</c> header.
    /// </summary>
    public static IApplicationBuilder UseChatMetrics(this IApplicationBuilder app)
    {
        var options = app.ApplicationServices.GetRequiredService<IOptions<ChatOptions>>().Value.Metrics;
        if (!options.Enabled) return app;
        var port = options.Port;
        Func<HttpContext, bool> isScrape = port == 0
            ? http => http.Request.Path == MetricsPath
            : http => http.Request.Path == MetricsPath && http.Connection.LocalPort == port;
        return app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider: null, predicate: isScrape, path: null,
            configureBranchedPipeline: null, optionsName: null);
    }

    /// <summary>
    /// Series (distinct tag combinations) kept per metric: 256. OpenTelemetry's default, 2,000, preallocates a
    /// 144 KB array for each of the ~50 metrics exported here (7.6 MB of heap that every full GC walks, measured with
    /// dotnet-gcdump), while the widest here, <c>http.server.request.duration</c> (route × method × status), has a few
    /// dozen. Past the limit a metric's new series are counted in one overflow series tagged
    /// <c>otel_metric_overflow="true"</c>, so nothing is lost from the totals.
    /// </summary>
    public const int MaxSeriesPerMetric = 256;

    /// <summary>Every instrument's stream: <see cref="MaxSeriesPerMetric"/>, and its Prometheus-friendly name (<see cref="PrometheusFriendlyName"/>).</summary>
    private static MetricStreamConfiguration StreamOf(System.Diagnostics.Metrics.Instrument instrument) =>
        new() { Name = PrometheusFriendlyName(instrument), CardinalityLimit = MaxSeriesPerMetric };

    /// <summary>
    /// Prometheus keeps the suffix <c>_count</c> for histograms (<c>promtool check metrics</c> flags a gauge named so), and
    /// the exporter only replaces dots: the runtime's gauges <c>dotnet.assembly.count</c>, <c>dotnet.process.cpu.count</c>
    /// and <c>dotnet.timer.count</c> are exported as <c>dotnet_assemblies_loaded</c>, <c>dotnet_process_cpus</c> and
    /// <c>dotnet_timers_active</c>; any other non-histogram <c>*.count</c> as <c>*.current</c>.
    /// </summary>
    /// <returns>The exported name, or null to keep the instrument's own.</returns>
    private static string? PrometheusFriendlyName(System.Diagnostics.Metrics.Instrument instrument)
    {
        if (!instrument.Name.EndsWith(".count", StringComparison.Ordinal) || instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal))
            return null;
        return instrument.Name switch
        {
            "dotnet.assembly.count" => "dotnet.assemblies.loaded",
            "dotnet.process.cpu.count" => "dotnet.process.cpus",
            "dotnet.timer.count" => "dotnet.timers.active",
            var name => name[..^".count".Length] + ".current",
        };
    }

    /// <summary>The scrape path: <c>/metrics</c>.</summary>
    public const string MetricsPath = "/metrics";
}
