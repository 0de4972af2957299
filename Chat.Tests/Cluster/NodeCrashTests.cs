using System.Diagnostics;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Cluster;

/// <summary>
/// A node SIGKILLed mid-stream (contract section 5): its users' partners on the other node see them offline within
/// <c>Chat:Cluster:NodeTimeout</c>, and its clients reconnect through the other node and lose nothing acknowledged.
/// </summary>
public sealed class NodeCrashTests : ClusterTestBase
{
    private static readonly TimeSpan NodeTimeout = TimeSpan.FromSeconds(4);

    /// <summary>Room for the heartbeat period and this machine on top of the node timeout.</summary>
    private static readonly TimeSpan Slack = TimeSpan.FromSeconds(3);

    [SetUp]
    public Task Start() => StartClusterAsync(new ClusterOptions { NodeTimeout = NodeTimeout });

    [Test]
    public async Task AKilledNodesUserIsShownOfflineToItsPartnerOnTheOtherNodeWithinNodeTimeout()
    {
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        await Cluster.A.SendAsync(alice, "bob", "hi");
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        await using var aliceOnA = await Cluster.A.ConnectAsync(alice);
        var online = await bobOnB.WaitForAsync("presence", match: f => f.Str("username") == "alice");
        Assert.That(online.Bool("online"), Is.True);

        var stream = new SendStream(aliceOnA, "bob", window: 16, pause: TimeSpan.FromMilliseconds(10));
        stream.Start();
        await stream.WaitForAcksAsync(50, TimeSpan.FromSeconds(30));
        Cluster.NodeA.Kill();
        var clock = Stopwatch.StartNew();

        var offline = await bobOnB.WaitForAsync("presence", NodeTimeout + Slack + TimeSpan.FromSeconds(10), f => f.Str("username") == "alice");
        var took = clock.Elapsed;
        FrameAssert.HasExactKeys(offline, FrameAssert.PresenceKeys);
        Assert.That(offline.Bool("online"), Is.False);
        TestContext.Out.WriteLine($"alice shown offline {took.TotalSeconds:F1}s after node A was killed (NodeTimeout {NodeTimeout.TotalSeconds}s)");
        Assert.That(took, Is.LessThanOrEqualTo(NodeTimeout + Slack), "offline within Chat:Cluster:NodeTimeout");
    }

    [Test]
    public async Task ReconnectingThroughTheOtherNodeAfterAKillAndSyncingLosesNothingAcknowledged()
    {
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        var conversation = (await Cluster.A.SendAsync(alice, "bob", "hi")).Long("conversation_id");
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        var aliceOnA = await Cluster.A.ConnectAsync(alice);

        var stream = new SendStream(aliceOnA, "bob", window: 32);
        stream.Start();
        await stream.WaitForAcksAsync(200, TimeSpan.FromSeconds(60));
        Cluster.NodeA.Kill();
        await stream.Ended.WaitAsync(TimeSpan.FromSeconds(30));
        stream.Stop();
        var acked = stream.Acked.Values.ToHashSet();
        Assert.That(stream.Sent, Is.GreaterThan(acked.Count + stream.Errors.Count), "the kill landed mid-stream, with sends unanswered");

        // alice reconnects through node B and syncs from the last id her socket saw; bob (on B all along) syncs from his.
        var aliceCursor = aliceOnA.MessageIds(conversation).DefaultIfEmpty(0).Max();
        await using var aliceOnB = await Cluster.B.ConnectAsync(alice);
        var aliceHas = aliceOnA.MessageIds(conversation).Concat((await aliceOnB.SyncAllAsync(aliceCursor)).Where(IsMessage).Select(f => f.Long("message_id"))).ToHashSet();
        var bobCursor = bobOnB.MessageIds(conversation).DefaultIfEmpty(0).Max();
        var bobLive = bobOnB.MessageIds(conversation);
        var bobHas = bobLive.Concat((await bobOnB.SyncAllAsync(bobCursor)).Where(IsMessage).Select(f => f.Long("message_id"))).ToHashSet();
        await aliceOnA.DisposeAsync();

        TestContext.Out.WriteLine($"{stream.Sent} sent, {acked.Count} acknowledged before the kill");
        Assert.Multiple(() =>
        {
            Assert.That(acked.Except(aliceHas), Is.Empty, "acknowledged messages alice did not get back through node B");
            Assert.That(acked.Except(bobHas), Is.Empty, "acknowledged messages bob did not get, live or by sync, on node B");
            Assert.That(bobLive, Is.Ordered.Ascending.And.Unique, "bob's live frames ascending, each once");
        });
    }

    private static bool IsMessage(System.Text.Json.Nodes.JsonObject frame) => frame.Type() is "chat_message" or "message_sent";
}
