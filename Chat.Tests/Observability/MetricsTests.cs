using System.Diagnostics;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Observability;

/// <summary>
/// <c>GET /metrics</c> (Chat:Metrics): the chat counters move by exactly what known traffic caused, over TestHost and
/// over real Kestrel (where sockets take the fast path); the scrape passes <c>promtool check metrics</c>; every metric the
/// Grafana dashboard queries is exported; the framework's meters are there too.
/// </summary>
[TestFixture]
public sealed partial class MetricsTests : ServerPerTest
{
    [TestCase(Transport.TestHost)]
    [TestCase(Transport.Kestrel)]
    public async Task KnownTrafficMovesEveryChatCounterByExactlyWhatItCaused(Transport transport)
    {
        var app = await StartServerAsync(transport, ChatTraffic.Settings);
        await ChatTraffic.RunAsync(app);
    }

    [Test]
    public async Task AFreshNodeExportsEveryChatCounterAtZeroSoRatesCountTheFirstEvent()
    {
        var app = await StartServerAsync(Transport.Kestrel);
        var scrape = await MetricsScrape.TakeAsync(app);

        (string Name, (string, string)[] Labels)[] series =
        [
            ("chat_messages_stored_total", []), ("chat_sends_rate_limited_total", []), ("chat_sockets_opened_total", []),
            ("chat_sync_requests_total", []), ("chat_sync_replayed_messages_total", []),
            ("chat_frames_delivered_total", [("type", "chat_message")]), ("chat_frames_delivered_total", [("type", "ack")]),
            ("chat_sockets_closed_total", [("reason", "slow")]), ("chat_sockets_closed_total", [("reason", "logout")]),
            ("chat_logins_total", [("outcome", "success")]), ("chat_logins_total", [("outcome", "failure")]), ("chat_logins_total", [("outcome", "throttled")]),
        ];
        Assert.Multiple(() =>
        {
            foreach (var (name, labels) in series)
            {
                Assert.That(scrape.Has(name, labels), Is.True, $"{name}{{{string.Join(",", labels)}}} is not exported before it happens");
                Assert.That(scrape.Value(name, labels), Is.Zero, name);
            }
        });
    }

    [Test]
    public async Task TheFrameworkMetersAreExportedBesideTheChatOnes()
    {
        var app = await StartServerAsync(Transport.Kestrel);
        await app.RegisterAsync("m_frame");
        var scrape = await MetricsScrape.TakeAsync(app);
        Assert.Multiple(() =>
        {
            Assert.That(scrape.Value("http_server_request_duration_seconds_count", ("http_route", "/api/auth/register")), Is.EqualTo(1), "ASP.NET Core hosting: the register request");
            Assert.That(scrape.Names, Does.Contain("kestrel_active_connections"), "Kestrel");
            Assert.That(scrape.Names, Does.Contain("dotnet_gc_collections_total").Or.Contain("dotnet_process_cpu_time_seconds_total"), "the runtime");
            Assert.That(scrape.Names, Does.Contain("chat_sockets_open"), "the chat meter");
        });
    }

    [Test]
    public async Task TheScrapeAfterTrafficPassesPromtoolCheckMetrics()
    {
        var promtool = Promtool();
        if (promtool is null)
            Assert.Ignore("promtool not installed (Debian package prometheus): promtool tests skipped");
        var app = await StartServerAsync(Transport.Kestrel, ChatTraffic.Settings);
        var scrape = await ChatTraffic.RunAsync(app);

        var info = new ProcessStartInfo(promtool, "check metrics") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.StandardInput.WriteAsync(scrape.Text);
        process.StandardInput.Close();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.That(process.ExitCode, Is.Zero, $"promtool check metrics:\n{await output}{await errors}");
    }

    [Test]
    public async Task EveryMetricTheGrafanaDashboardQueriesIsInARealScrape()
    {
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(DashboardPath))!.AsObject();
        var expressions = dashboard["panels"]!.AsArray()
            .SelectMany(p => p!["targets"]?.AsArray() ?? [])
            .Select(t => t!["expr"]!.GetValue<string>())
            .ToList();
        var queried = expressions.SelectMany(MetricNames).ToHashSet();
        Assert.That(queried, Has.Count.GreaterThan(10), $"the dashboard queries the chat and framework metrics: {string.Join(", ", queried)}");

        var app = await StartServerAsync(Transport.Kestrel, ChatTraffic.Settings);
        var scrape = await ChatTraffic.RunAsync(app);
        var missing = queried.Where(n => !scrape.Names.Contains(n)).ToList();
        Assert.That(missing, Is.Empty, $"queried by docs/grafana/chat-dashboard.json but not exported:\n{string.Join("\n", missing)}");
    }

    private static string DashboardPath => Path.Combine(AppContext.BaseDirectory, "grafana", "chat-dashboard.json");

    /// <summary>PromQL keywords that stand where a metric name could.</summary>
    private static readonly HashSet<string> PromQlWords = ["by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset"];

    /// <summary>
    /// The metric names a PromQL expression selects: what is left of its identifiers once label matchers (<c>{...}</c>),
    /// grouping clauses (<c>by (...)</c>), ranges (<c>[5m]</c>), function calls (<c>rate(</c>) and keywords are taken out.
    /// </summary>
    internal static IEnumerable<string> MetricNames(string expression)
    {
        var bare = LabelMatchers().Replace(expression, " ");
        bare = Grouping().Replace(bare, " ");
        bare = Ranges().Replace(bare, " ");
        return Identifiers().Matches(bare).Select(m => m.Groups["name"].Value).Where(n => !PromQlWords.Contains(n));
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex LabelMatchers();

    [GeneratedRegex(@"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")]
    private static partial Regex Grouping();

    [GeneratedRegex(@"\[[^\]]*\]")]
    private static partial Regex Ranges();

    /// <summary>An identifier not followed by <c>(</c> (a function) and not part of a number.</summary>
    [GeneratedRegex(@"(?<![\w.])(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?!\s*\()(?![\w])")]
    private static partial Regex Identifiers();

    private static string? Promtool()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Append("/usr/bin"))
        {
            var path = Path.Combine(dir, "promtool");
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
