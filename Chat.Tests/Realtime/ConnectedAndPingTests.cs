using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Realtime;

/// <summary>Section 3: <c>connected</c> is the first frame of every socket; <c>ping</c> is answered by <c>pong</c>.</summary>
[BothStores]
public sealed class ConnectedAndPingTests
{
    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync();

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private static async Task<long> ConnectedLastIdAsync(TestUser user)
    {
        await using var socket = await user.ConnectAsync();
        var connected = await socket.NextAsync();
        Assert.That(connected.Type(), Is.EqualTo("connected"), $"the first frame must be connected, got {connected.ToJsonString()}");
        FrameAssert.HasExactKeys(connected, FrameAssert.ConnectedKeys);
        Assert.That(connected.Str("username"), Is.EqualTo(user.Username));
        return connected.Long("last_message_id");
    }

    [Test]
    public async Task ConnectedIsTheFirstFrameWithExactKeysAndZeroLastMessageIdForAUserWithoutMessages()
    {
        var alice = await _app.RegisterAsync("alice");
        await using var socket = await alice.ConnectAsync();
        var connected = await socket.NextAsync();
        Assert.That(connected.Type(), Is.EqualTo("connected"));
        FrameAssert.HasExactKeys(connected, FrameAssert.ConnectedKeys);
        Assert.Multiple(() =>
        {
            Assert.That(connected.Str("username"), Is.EqualTo("alice"));
            Assert.That(connected["last_message_id"]!.GetValueKind(), Is.EqualTo(System.Text.Json.JsonValueKind.Number));
            Assert.That(connected.Long("last_message_id"), Is.Zero);
        });
        Assert.That(await socket.DrainAsync(), Is.Empty, "nothing else is sent to a user with no conversations");
    }

    [Test]
    public async Task ConnectedUsernameIsTheStoredSpellingWhateverCaseWasUsedToLogIn()
    {
        await _app.RegisterAsync("Alice");
        var token = await _app.LoginAsync("ALICE", "password123");
        await using var socket = await _app.ConnectAsync(token);
        var connected = await socket.ExpectAsync("connected");
        Assert.That(connected.Str("username"), Is.EqualTo("Alice"));
    }

    [Test]
    public async Task ConnectedLastMessageIdIsTheNewestMessageTheUserSentOrReceived()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var carol = await _app.RegisterAsync("carol");
        var dave = await _app.RegisterAsync("dave");
        var eve = await _app.RegisterAsync("eve");

        var m1 = (await alice.SendAsync("bob", "one")).Long("message_id");
        // m2 is sent as a frame, so both send paths count.
        long m2;
        await using (var carolSocket = await carol.ConnectReadyAsync())
        {
            await carolSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("alice", "two", "c-2"));
            m2 = (await carolSocket.WaitForAsync("ack")).Long("message_id");
        }
        var m3 = (await bob.SendAsync("dave", "three")).Long("message_id");
        Assert.That(new[] { m1, m2, m3 }, Is.Ordered.Ascending);

        var aliceLast = await ConnectedLastIdAsync(alice);
        var bobLast = await ConnectedLastIdAsync(bob);
        var carolLast = await ConnectedLastIdAsync(carol);
        var daveLast = await ConnectedLastIdAsync(dave);
        var eveLast = await ConnectedLastIdAsync(eve);
        Assert.Multiple(() =>
        {
            Assert.That(aliceLast, Is.EqualTo(m2), "alice: newest is one she received");
            Assert.That(bobLast, Is.EqualTo(m3), "bob: newest is one he sent");
            Assert.That(carolLast, Is.EqualTo(m2), "carol: later messages of others do not count");
            Assert.That(daveLast, Is.EqualTo(m3));
            Assert.That(eveLast, Is.Zero, "eve has no messages even though others do");
        });
    }

    [Test]
    public async Task ConnectedIsFirstEvenWhenPartnersAreOnline()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var sent = await alice.SendAsync("bob", "hi");
        await using var bobSocket = await bob.ConnectReadyAsync();

        await using var aliceSocket = await alice.ConnectAsync();
        var first = await aliceSocket.NextAsync();
        Assert.That(first.Type(), Is.EqualTo("connected"), first.ToJsonString());
        Assert.That(first.Long("last_message_id"), Is.EqualTo(sent.Long("message_id")));
        // The presence snapshot for the online partner comes after it.
        var presence = await aliceSocket.WaitForAsync("presence");
        Assert.That(presence.Str("username"), Is.EqualTo("bob"));
    }

    [Test]
    public async Task PingIsAnsweredWithPongHavingExactlyTheTypeKey()
    {
        var alice = await _app.RegisterAsync("alice");
        await using var socket = await alice.ConnectReadyAsync();
        for (var i = 0; i < 3; i++)
        {
            await socket.SendAsync(new JsonObject { ["type"] = "ping" });
            var pong = await socket.ExpectAsync("pong");
            FrameAssert.HasExactKeys(pong, ["type"]);
        }
    }

    [Test]
    public async Task PingWithExtraFieldsIsStillAnsweredWithPlainPong()
    {
        var alice = await _app.RegisterAsync("alice");
        await using var socket = await alice.ConnectReadyAsync();
        await socket.SendTextAsync("""{"client_msg_id":"p1","extra":[1,2,3],"type":"ping"}""");
        var pong = await socket.ExpectAsync("pong");
        FrameAssert.HasExactKeys(pong, ["type"]);
    }
}
