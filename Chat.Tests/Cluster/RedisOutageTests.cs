using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Cluster;

/// <summary>
/// Redis taken away mid-stream and brought back (contract section 5): sends keep being stored and acknowledged, and
/// within 10 s of its return every socket has, once each and in order, every stored-message frame it missed, without
/// the client sending <c>sync</c>.
/// </summary>
public sealed class RedisOutageTests : ClusterTestBase
{
    /// <summary>The contract's bound for the gap fill, plus a second for this machine.</summary>
    private static readonly TimeSpan GapFillBound = TimeSpan.FromSeconds(10 + 1);

    public enum Outage
    {
        /// <summary>Redis shut down (SIGTERM): connections refused.</summary>
        Stopped,
        /// <summary>Redis SIGKILLed.</summary>
        Killed,
        /// <summary>Redis frozen (SIGSTOP) for longer than a heartbeat and the command timeouts: nothing answers, nothing is refused.</summary>
        Hung,
    }

    [TestCase(Outage.Stopped, TestName = "EveryFrameMissedWhileRedisWasStoppedArrivesOnceInOrderWithoutSyncWithin10s")]
    [TestCase(Outage.Killed, TestName = "EveryFrameMissedWhileRedisWasKilledArrivesOnceInOrderWithoutSyncWithin10s")]
    [TestCase(Outage.Hung, TestName = "ARedisThatHangsNeitherStopsANodeNorHoldsSendsAndEveryFrameArrivesOnceInOrderAfterwards")]
    public async Task EveryFrameMissedDuringARedisOutageArrivesOnceInOrderWithoutSync(Outage outage)
    {
        // The hang runs with the send rate limit on (its bucket is in Redis) and a short node timeout (heartbeats every
        // second), so both meet the frozen Redis.
        await StartClusterAsync(outage != Outage.Hung ? null : new ClusterOptions
        {
            Settings = new Dictionary<string, string>
            {
                ["Chat:RateLimit:MessagesPerSecond"] = "10000", ["Chat:RateLimit:Burst"] = "10000", ["Chat:Cluster:NodeTimeout"] = "00:00:04",
            },
        });
        var redis = Cluster.Redis!;
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        var conversation = (await Cluster.A.SendAsync(alice, "bob", "first")).Long("conversation_id");
        // Each user sends through one node and has a second device on the other.
        await using var aliceOnA = await Cluster.A.ConnectAsync(alice);
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        await using var aliceOnB = await Cluster.B.ConnectAsync(alice);
        await using var bobOnA = await Cluster.A.ConnectAsync(bob);

        var pause = TimeSpan.FromMilliseconds(20);
        var streams = new[] { new SendStream(aliceOnA, "bob", window: 16, pause: pause), new SendStream(bobOnB, "alice", window: 16, pause: pause) };
        foreach (var stream in streams) stream.Start();
        foreach (var stream in streams) await stream.WaitForAcksAsync(40, TimeSpan.FromSeconds(30));

        switch (outage)
        {
            case Outage.Killed: redis.Kill(); break;
            case Outage.Stopped: await redis.StopAsync(); break;
            case Outage.Hung: redis.Pause(); break;
        }
        var ackedBeforeOutage = streams.Select(s => s.Acked.Count).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(outage == Outage.Hung ? 10 : 3));
        var ackedDuringOutage = streams.Select((s, i) => s.Acked.Count - ackedBeforeOutage[i]).ToArray();
        if (outage == Outage.Hung) redis.Resume();
        else await redis.StartAsync();
        var back = DateTime.UtcNow;

        // A little more traffic after the return, then every send must be answered.
        await Task.Delay(TimeSpan.FromSeconds(1));
        foreach (var stream in streams) stream.Stop();
        foreach (var stream in streams) await stream.Written.WaitAsync(TimeSpan.FromSeconds(10));
        await FrameLog.WaitUntilAsync(() => streams.All(s => s.Acked.Count + s.Errors.Count >= s.Sent), TimeSpan.FromSeconds(15),
            () => $"sends unanswered: {string.Join(", ", streams.Select(s => s.Sent - s.Acked.Count - s.Errors.Count))}");

        Assert.That(streams.SelectMany(s => s.Errors), Is.Empty, "no send failed while Redis was down");
        Assert.That(ackedDuringOutage, Has.All.GreaterThan(0), "sends were acknowledged while Redis was down, through both nodes");
        var acked = streams.SelectMany(s => s.Acked.Values).ToHashSet();
        TestContext.Out.WriteLine($"{acked.Count} acknowledged, {ackedDuringOutage.Sum()} of them while Redis was down");

        foreach (var (name, socket) in new[] { ("alice on A", aliceOnA), ("bob on B", bobOnB), ("alice on B", aliceOnB), ("bob on A", bobOnA) })
        {
            var left = back + GapFillBound - DateTime.UtcNow;
            await socket.AssertSeesExactlyInOrderAsync(name, conversation, acked, left > TimeSpan.Zero ? left : TimeSpan.Zero);
        }
        foreach (var socket in new[] { aliceOnA, bobOnB, aliceOnB, bobOnA })
            Assert.That(socket.OfType("conversation_refresh"), Is.Empty, "no message of the stream created a conversation");
        var stored = (await Cluster.B.HistoryAsync(bob, conversation)).Select(m => m.Long("message_id")).ToHashSet();
        Assert.That(acked.Except(stored), Is.Empty, "every acknowledged message is stored");
        Assert.That((Cluster.NodeA.HasExited, Cluster.NodeB.HasExited), Is.EqualTo((false, false)), "both nodes still run");
    }
}
