using System.Net;
using System.Net.Sockets;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Observability;

/// <summary>
/// Where <c>/metrics</c> is answered (Chat:Metrics): with <c>Chat:Metrics:Port</c>, only on connections that arrived on
/// that local port (real Kestrel on two addresses), whatever the <c>Host</c> header says; nowhere when turned off.
/// </summary>
[TestFixture]
public sealed class MetricsAddressTests : ServerPerTest
{
    [Test]
    public async Task WithAMetricsPortMetricsAreAnsweredOnlyOnThatPortWhateverTheHostHeader()
    {
        var metricsPort = FreePort();
        var app = await StartServerAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["urls"] = $"http://127.0.0.1:0;http://127.0.0.1:{metricsPort}",
            ["Chat:Metrics:Port"] = metricsPort.ToString(),
        });
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a)).ToList();
        var metricsAddress = addresses.Single(a => a.Port == metricsPort);
        var publicAddress = addresses.Single(a => a.Port != metricsPort);

        using var publicClient = new HttpClient { BaseAddress = publicAddress };
        using var metricsClient = new HttpClient { BaseAddress = metricsAddress };
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/metrics") { Headers = { Host = $"127.0.0.1:{metricsPort}" } };
        Assert.Multiple(async () =>
        {
            Assert.That((int)(await publicClient.GetAsync("/metrics")).StatusCode, Is.EqualTo(404), "the public port does not answer /metrics");
            Assert.That((int)(await publicClient.SendAsync(forged)).StatusCode, Is.EqualTo(404), "a Host header naming the metrics port changes nothing");
            Assert.That((int)(await publicClient.GetAsync("/healthz")).StatusCode, Is.EqualTo(200), "the public port serves the API");
        });
        var scrape = await MetricsScrape.TakeAsync(metricsClient);
        Assert.That(scrape.Names, Does.Contain("chat_sockets_open"), "the metrics port answers /metrics");
    }

    [Test]
    public async Task TurnedOffMetricsAreNotServed()
    {
        var app = await StartServerAsync(Transport.Kestrel, new Dictionary<string, string?> { ["Chat:Metrics:Enabled"] = "false" });
        using var client = app.CreateClient();
        Assert.Multiple(async () =>
        {
            Assert.That((int)(await client.GetAsync("/metrics")).StatusCode, Is.EqualTo(404));
            Assert.That((int)(await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(200), "the server runs");
        });
    }

    [Test]
    public async Task ByDefaultMetricsAreAnsweredOnTheServersAddress()
    {
        var app = await StartServerAsync(Transport.Kestrel);
        var scrape = await MetricsScrape.TakeAsync(app);
        Assert.That(scrape.Names, Does.Contain("chat_sockets_open"));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
