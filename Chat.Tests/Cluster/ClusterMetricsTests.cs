using Chat.Tests.Observability;

namespace Chat.Tests.Cluster;

/// <summary>
/// The backplane meters of two real nodes (PostgreSQL and Redis): a message committed on one node is counted as published
/// there and received on the other; one stored while Redis is stopped is filled from the database on the other node
/// once Redis is back.
/// </summary>
[TestFixture]
public sealed class ClusterMetricsTests : ClusterTestBase
{
    [Test]
    public async Task AMessageIsPublishedByItsNodeReceivedByTheOtherAndAGapIsFilledAfterARedisOutage()
    {
        await StartClusterAsync();
        var alice = await Cluster.A.RegisterAsync("bp_alice");
        var bob = await Cluster.B.RegisterAsync("bp_bob");
        await using var bobSocket = await Cluster.B.ConnectAsync(bob);
        var beforeA = await ScrapeAsync(Cluster.A);
        var beforeB = await ScrapeAsync(Cluster.B);
        double Delta(MetricsScrape before, MetricsScrape now, string name) => now.Value(name) - before.Value(name);

        await Cluster.A.SendAsync(alice, "bp_bob", "over the bus");
        await bobSocket.WaitForAsync("chat_message");
        var a = await ScrapeAsync(Cluster.A);
        var b = await ScrapeAsync(Cluster.B);
        Assert.Multiple(() =>
        {
            Assert.That(Delta(beforeA, a, "chat_backplane_published_total"), Is.EqualTo(1), "node A published its one batch");
            Assert.That(Delta(beforeB, b, "chat_backplane_received_total"), Is.EqualTo(1), "node B received it");
            Assert.That(Delta(beforeB, b, "chat_backplane_published_total"), Is.Zero, "node B committed nothing");
            Assert.That(Delta(beforeA, a, "chat_backplane_received_total"), Is.Zero, "a node does not count its own batches as received");
            Assert.That(Delta(beforeB, b, "chat_backplane_gap_fills_total"), Is.Zero, "nothing was lost");
        });

        // Redis stops: the next message reaches bob through node B's gap fill from the database.
        await Cluster.Redis!.StopAsync();
        await Cluster.A.SendAsync(alice, "bp_bob", "while Redis is down");
        await Cluster.Redis.StartAsync();
        await bobSocket.WaitForAsync("chat_message", TimeSpan.FromSeconds(20), f => f["message"]!.GetValue<string>() == "while Redis is down");
        var filled = await ScrapeAsync(Cluster.B);
        Assert.That(Delta(beforeB, filled, "chat_backplane_gap_fills_total"), Is.GreaterThanOrEqualTo(1), "node B filled the gap from the database");
    }

    private static async Task<MetricsScrape> ScrapeAsync(ChatEndpoint node)
    {
        using var client = node.CreateClient();
        return await MetricsScrape.TakeAsync(client);
    }
}
