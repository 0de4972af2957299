using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Cluster;

/// <summary>
/// Both participants of one conversation sending at once through different nodes (contract section 5: per-conversation
/// ascending order on every socket, <c>sync</c> the same on every node, a <c>client_msg_id</c> repeat recognised
/// whichever node gets it).
/// </summary>
public sealed class ConcurrentSendTests : ClusterTestBase
{
    private const int MessagesEach = 300;

    [SetUp]
    public Task Start() => StartClusterAsync();

    [Test]
    public async Task BothSending300ConcurrentlyThroughDifferentNodesEverySocketSeesTheConversationInAscendingOrderWithoutGaps()
    {
        var (alice, bob, conversation) = await TwoUsersWithAConversationAsync();
        await using var aliceOnA = await Cluster.A.ConnectAsync(alice);
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        await using var aliceOnB = await Cluster.B.ConnectAsync(alice);
        await using var bobOnA = await Cluster.A.ConnectAsync(bob);

        var acked = await SendConcurrentlyAsync(aliceOnA, bobOnB);

        Assert.That(acked, Has.Count.EqualTo(2 * MessagesEach), "every send acknowledged once, with its own id");
        foreach (var (name, socket) in new[] { ("alice on A (sending)", aliceOnA), ("bob on B (sending)", bobOnB), ("alice on B", aliceOnB), ("bob on A", bobOnA) })
            await socket.AssertSeesExactlyInOrderAsync(name, conversation, acked, TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task SyncFromZeroAfterConcurrentSendsThroughBothNodesIsIdenticalOnBothNodes()
    {
        var (alice, bob, _) = await TwoUsersWithAConversationAsync();
        await using (var aliceOnA = await Cluster.A.ConnectAsync(alice))
        await using (var bobOnB = await Cluster.B.ConnectAsync(bob))
            await SendConcurrentlyAsync(aliceOnA, bobOnB);

        await using var syncOnA = await Cluster.A.ConnectAsync(alice);
        await using var syncOnB = await Cluster.B.ConnectAsync(alice);
        var onA = await syncOnA.SyncAllAsync(0, limit: 250);
        var onB = await syncOnB.SyncAllAsync(0, limit: 250);

        Assert.That(onA.Count(f => f.Type() is "chat_message" or "message_sent"), Is.EqualTo(2 * MessagesEach + 1));
        Assert.That(onB.Select(f => f.ToJsonString()), Is.EqualTo(onA.Select(f => f.ToJsonString())), "node B replays exactly node A's frames");
    }

    [Test]
    public async Task AClientMsgIdRepeatedThroughTheOtherNodeStoresOneMessage()
    {
        var (alice, bob, conversation) = await TwoUsersWithAConversationAsync();
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        await using var aliceOnB = await Cluster.B.ConnectAsync(alice);

        var original = await Cluster.A.SendAsync(alice, "bob", "only once", "once-1");
        await aliceOnB.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = "only once", ["client_msg_id"] = "once-1" });
        var repeatAck = await aliceOnB.WaitForAsync("ack");
        var repeatHttp = await Cluster.B.SendAsync(alice, "bob", "only once", "once-1");

        Assert.That(repeatAck.Long("message_id"), Is.EqualTo(original.Long("message_id")), "the repeat through node B over WebSocket is answered with the original");
        Assert.That(repeatHttp.Long("message_id"), Is.EqualTo(original.Long("message_id")), "the repeat through node B over HTTP is answered with the original");
        var stored = (await Cluster.A.HistoryAsync(alice, conversation)).Where(m => m.Str("message") == "only once").ToList();
        Assert.That(stored, Has.Count.EqualTo(1), "one message stored");
        var bobsFrames = (await bobOnB.DrainAsync()).Where(f => f.Type() == "chat_message").Select(f => f.Long("message_id")).ToList();
        Assert.That(bobsFrames, Is.EqualTo(new[] { original.Long("message_id") }), "the receiver is notified once");
    }

    /// <summary>alice (registered on A) and bob (on B), and the conversation alice started through A.</summary>
    private async Task<(ClusterUser Alice, ClusterUser Bob, long Conversation)> TwoUsersWithAConversationAsync()
    {
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        var first = await Cluster.A.SendAsync(alice, "bob", "first");
        return (alice, bob, first.Long("conversation_id"));
    }

    /// <summary>
    /// <see cref="MessagesEach"/> <c>send_message</c> frames from each socket at once (alice's to bob, bob's to alice),
    /// pipelined; returns every acknowledged message id (failing on an error frame or a missing ack).
    /// </summary>
    private static async Task<HashSet<long>> SendConcurrentlyAsync(ChatSocket aliceSocket, ChatSocket bobSocket)
    {
        var streams = new[] { new SendStream(aliceSocket, "bob", window: 32, count: MessagesEach), new SendStream(bobSocket, "alice", window: 32, count: MessagesEach) };
        foreach (var stream in streams) stream.Start();
        foreach (var stream in streams) await stream.WaitForAcksAsync(MessagesEach, TimeSpan.FromSeconds(120));
        foreach (var stream in streams) stream.Stop();
        Assert.That(streams.SelectMany(s => s.Errors), Is.Empty, "no send failed");
        return streams.SelectMany(s => s.Acked.Values).ToHashSet();
    }
}
