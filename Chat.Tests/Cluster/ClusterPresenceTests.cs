using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// Presence counts sockets on every node (contract section 5): a user moving between nodes, with the new socket opening
/// while the old one closes, is never shown offline while connected, and is shown offline once the last socket is gone.
/// </summary>
public sealed class ClusterPresenceTests : ClusterTestBase
{
    [Test]
    public async Task AUserMovingBetweenNodesIsNeverShownOfflineWhileConnected()
    {
        await StartClusterAsync();
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        await Cluster.A.SendAsync(alice, "bob", "hi");
        await using var aliceSocket = await Cluster.A.ConnectAsync(alice);

        var current = await Cluster.B.ConnectAsync(bob);
        await aliceSocket.ReceivedAsync("presence", f => f.Str("username") == "bob" && f.Bool("online"));
        for (var move = 0; move < 10; move++)
        {
            // The next socket opens on the other node, and at once the previous one closes: bob always has one open,
            // and the two nodes' presence changes race (the new node writes its share while the old one removes its own).
            var previous = current;
            current = await (move % 2 == 0 ? Cluster.A : Cluster.B).ConnectAsync(bob);
            await previous.DisposeAsync();
        }

        // However the changes interleaved, bob always had a socket open: alice is never told he is offline, and the last
        // word she gets is online.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.That(aliceSocket.OfType("presence").Where(f => f.Str("username") == "bob").Select(f => f.Bool("online")), Has.None.False,
            $"bob was connected all along; alice's presence frames: {Presences(aliceSocket)}");
        Assert.That(LastPresenceOf(aliceSocket, "bob")?.Bool("online"), Is.True, $"alice's presence frames: {Presences(aliceSocket)}");

        await current.DisposeAsync();
        await FrameLog.WaitUntilAsync(() => LastPresenceOf(aliceSocket, "bob")?.Bool("online") == false, TimeSpan.FromSeconds(5),
            () => $"bob closed his last socket; alice's presence frames: {Presences(aliceSocket)}");
    }

    private static JsonObject? LastPresenceOf(ChatSocket socket, string username) =>
        socket.OfType("presence").LastOrDefault(f => f.Str("username") == username);

    private static string Presences(ChatSocket socket) =>
        string.Join(" ", socket.OfType("presence").Select(f => $"{f.Str("username")}:{f.Bool("online")}"));
}
