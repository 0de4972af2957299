using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary>
/// <c>presence</c>: online at a user's first socket, offline at the last, and the snapshot after <c>connected</c>.
/// Announcements are sent asynchronously after the socket opens or closes, so "nothing was sent" is checked after
/// the server has registered the change plus a short settle time, and again by the complete list at the end.
/// </summary>
[BothStores]
public sealed class PresenceTests
{
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(300);

    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        _alice = await _app.RegisterAsync("alice");
        _bob = await _app.RegisterAsync("bob");
        await _alice.SendAsync("bob", "hi");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private static List<JsonObject> PresenceOf(ChatSocket socket, string username)
    {
        lock (socket.History)
            return socket.History.Where(f => f.Type() == "presence" && f.Str("username") == username).Select(f => f.DeepClone().AsObject()).ToList();
    }

    private static void AssertPresence(JsonObject frame, string username, bool online)
    {
        FrameAssert.HasExactKeys(frame, FrameAssert.PresenceKeys);
        Assert.Multiple(() =>
        {
            Assert.That(frame.Str("username"), Is.EqualTo(username));
            Assert.That(frame.Bool("online"), Is.EqualTo(online));
        });
    }

    private static async Task AssertNoPresenceAsync(ChatSocket socket)
    {
        await Task.Delay(Settle);
        Assert.That(OfType(await socket.DrainAsync(), "presence"), Is.Empty);
    }

    [Test]
    public async Task PartnerSeesOnlineWhenTheFirstSocketOpens()
    {
        await using var bobSocket = await OpenAsync(_bob);
        await using var alice1 = await OpenAsync(_alice);
        AssertPresence(await bobSocket.WaitForAsync("presence"), "alice", true);
    }

    [Test]
    public async Task PartnerSeesNothingWhenASecondSocketOpens()
    {
        await using var bobSocket = await OpenAsync(_bob);
        await using var alice1 = await OpenAsync(_alice);
        await bobSocket.WaitForAsync("presence");

        await using var alice2 = await OpenAsync(_alice);
        await WaitForOpenSocketsAsync(_app, "alice", 2);
        await AssertNoPresenceAsync(bobSocket);
        Assert.That(PresenceOf(bobSocket, "alice"), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task PartnerSeesNothingWhenOneOfTwoSocketsCloses()
    {
        await using var bobSocket = await OpenAsync(_bob);
        await using var alice1 = await OpenAsync(_alice);
        await using var alice2 = await OpenAsync(_alice);
        await bobSocket.WaitForAsync("presence");

        await alice1.DisposeAsync();
        await WaitForOpenSocketsAsync(_app, "alice", 1);
        await AssertNoPresenceAsync(bobSocket);
        Assert.That(PresenceOf(bobSocket, "alice"), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task PartnerSeesOfflineOnlyAfterTheLastSocketCloses()
    {
        await using var bobSocket = await OpenAsync(_bob);
        await using var bobOther = await OpenAsync(_bob);
        var alice1 = await OpenAsync(_alice);
        foreach (var socket in new[] { bobSocket, bobOther })
            AssertPresence(await socket.WaitForAsync("presence"), "alice", true);
        var alice2 = await OpenAsync(_alice);
        await alice1.DisposeAsync();
        await WaitForOpenSocketsAsync(_app, "alice", 1);
        await AssertNoPresenceAsync(bobSocket);

        await alice2.DisposeAsync();
        foreach (var socket in new[] { bobSocket, bobOther })
        {
            var offline = await socket.WaitForAsync("presence", match: f => !f.Bool("online"));
            AssertPresence(offline, "alice", false);
        }
        // Over the whole run every socket of bob saw exactly: online once, then offline once.
        await Task.Delay(Settle);
        foreach (var socket in new[] { bobSocket, bobOther })
        {
            await socket.DrainAsync();
            Assert.That(PresenceOf(socket, "alice").Select(f => f.Bool("online")), Is.EqualTo(new[] { true, false }));
        }
    }

    [Test]
    public async Task NewSocketGetsPresenceSnapshotOfOnlinePartnersRightAfterConnected()
    {
        var carol = await _app.RegisterAsync("carol");
        var dave = await _app.RegisterAsync("dave");
        var erin = await _app.RegisterAsync("erin");
        await carol.SendAsync("alice", "hi");
        await _alice.SendAsync("dave", "hi");
        // bob and carol are alice's partners and online; dave is a partner but offline; erin is online but no partner.
        await using var bobSocket = await OpenAsync(_bob);
        await using var carolSocket = await OpenAsync(carol);
        await using var erinSocket = await OpenAsync(erin);

        await using var aliceSocket = await _alice.ConnectAsync();
        await aliceSocket.ExpectAsync("connected");
        var snapshot = new[] { await aliceSocket.ExpectAsync("presence"), await aliceSocket.ExpectAsync("presence") };
        foreach (var frame in snapshot) FrameAssert.HasExactKeys(frame, FrameAssert.PresenceKeys);
        Assert.Multiple(() =>
        {
            Assert.That(snapshot.Select(f => f.Str("username")), Is.EquivalentTo(new[] { "bob", "carol" }));
            Assert.That(snapshot.Select(f => f.Bool("online")), Is.All.True);
        });
        // (A late live announcement of bob or carol coming online would be legitimate; dave and erin never are.)
        var later = OfType(await aliceSocket.DrainAsync(), "presence");
        Assert.That(later.Select(f => f.Str("username")), Has.None.AnyOf("dave", "erin"), "no presence for offline partners or non-partners");
    }

    [Test]
    public async Task SnapshotIsEmptyWhenNoPartnerIsOnline()
    {
        await using var aliceSocket = await OpenAsync(_alice);
        Assert.That(await aliceSocket.DrainAsync(), Is.Empty);
    }

    [Test]
    public async Task UserWithoutSharedConversationGetsNoPresence()
    {
        var carol = await _app.RegisterAsync("carol");
        await using var carolSocket = await OpenAsync(carol);
        await using var bobSocket = await OpenAsync(_bob);
        var aliceSocket = await OpenAsync(_alice);
        await bobSocket.WaitForAsync("presence");
        await aliceSocket.DisposeAsync();
        await bobSocket.WaitForAsync("presence", match: f => !f.Bool("online"));
        Assert.That(OfType(await carolSocket.DrainAsync(), "presence"), Is.Empty);
    }
}
