using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// PostgreSQL stopped under running nodes and started again (contract section 5): sends fail with <c>internal</c> and
/// nothing is acknowledged while it is down; the nodes resume by themselves once it is back. The nodes run on a
/// PostgreSQL cluster of this test's own, so the other tests' database stays up.
/// </summary>
public sealed class PostgresOutageTests : ClusterTestBase
{
    /// <summary>How long the nodes get to notice PostgreSQL is back.</summary>
    private static readonly TimeSpan RecoveryBound = TimeSpan.FromSeconds(30);

    [SetUp]
    public Task Start() => StartClusterAsync(new ClusterOptions { PrivatePostgres = true });

    [Test]
    public async Task SendsWhilePostgresIsDownGetInternalAndNoAckAndSucceedAgainAfterItReturnsWithoutRestartingNodes()
    {
        var postgres = Cluster.PrivatePostgres!;
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        var conversation = (await Cluster.A.SendAsync(alice, "bob", "before the outage")).Long("conversation_id");
        await using var aliceOnA = await Cluster.A.ConnectAsync(alice);
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        var nodeIds = (Cluster.NodeA.Id, Cluster.NodeB.Id);

        await postgres.StopAsync();

        // Over WebSocket through node A: an error frame 'internal' for the send, and no ack.
        await aliceOnA.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = "during the outage (ws)", ["client_msg_id"] = "down-ws" });
        var answer = await aliceOnA.AnswerToAsync("down-ws", TimeSpan.FromSeconds(40));
        Assert.That(answer, Is.Not.Null, "the send during the outage was not answered within 40 s");
        Assert.That(answer!.Type(), Is.EqualTo("error"), answer.ToJsonString());
        FrameAssert.HasExactKeys(answer, FrameAssert.ErrorKeys);
        Assert.That(answer.Str("code"), Is.EqualTo("internal"));
        // Over HTTP through node B: 500 (or 503 where authenticating needs the database), code 'internal'.
        var (status, body) = await Cluster.B.TrySendAsync(bob, "alice", "during the outage (http)", "down-http");
        Assert.That(status, Is.AnyOf(500, 503), body.ToJsonString());
        Assert.That(body["code"]?.GetValue<string>(), Is.EqualTo("internal"), body.ToJsonString());

        await postgres.StartAsync();

        // The same nodes take sends again by themselves: over WebSocket through A, then over HTTP through B.
        var resumed = await PollAsync(async attempt =>
        {
            var id = $"after-{attempt}";
            await aliceOnA.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = $"after the outage {attempt}", ["client_msg_id"] = id });
            var reply = await aliceOnA.AnswerToAsync(id, TimeSpan.FromSeconds(20));
            if (reply?.Type() == "error") Assert.That(reply.Str("code"), Is.EqualTo("internal"), reply.ToJsonString());
            return reply?.Type() == "ack" ? reply : null;
        });
        Assert.That(resumed, Is.Not.Null, $"no send through node A was acknowledged within {RecoveryBound.TotalSeconds}s of PostgreSQL's return");
        var httpResumed = await PollAsync(async attempt =>
        {
            var (code, receipt) = await Cluster.B.TrySendAsync(bob, "alice", $"after the outage (http) {attempt}");
            return code == 201 ? receipt : null;
        });
        Assert.That(httpResumed, Is.Not.Null, $"no send through node B was accepted within {RecoveryBound.TotalSeconds}s of PostgreSQL's return");
        Assert.That((Cluster.NodeA.Id, Cluster.NodeB.Id, Cluster.NodeA.HasExited, Cluster.NodeB.HasExited), Is.EqualTo((nodeIds.Item1, nodeIds.Item2, false, false)), "the same node processes, never restarted");

        var texts = (await Cluster.A.HistoryAsync(alice, conversation)).Select(m => m.Str("message")).ToList();
        Assert.That(texts, Has.None.StartsWith("during the outage"), "nothing refused during the outage was stored");
        Assert.That(aliceOnA.OfType("ack").Select(a => a["client_msg_id"]?.GetValue<string>()), Has.None.EqualTo("down-ws"), "the refused send was never acknowledged");
        var delivered = await bobOnB.WaitForAsync("chat_message", TimeSpan.FromSeconds(10), f => f.Long("message_id") == resumed!.Long("message_id"));
        Assert.That(delivered.Str("message"), Does.StartWith("after the outage"), "live delivery across nodes works again");
    }

    /// <summary>Tries once a second (attempt 0, 1, ...) until <paramref name="attempt"/> gives a result or <see cref="RecoveryBound"/> passes.</summary>
    private static async Task<JsonObject?> PollAsync(Func<int, Task<JsonObject?>> attempt)
    {
        var deadline = DateTime.UtcNow + RecoveryBound;
        for (var n = 0; DateTime.UtcNow < deadline; n++)
        {
            if (await attempt(n) is { } result) return result;
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        return null;
    }
}
