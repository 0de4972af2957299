using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// Contract sections 3-5 with the two users on different nodes: the seed scenario, several devices on both nodes, read
/// receipts, typing, presence and <c>sync</c>; straight to the nodes and through nginx. Through nginx the sockets of a
/// test are opened one right after the other, so round robin puts consecutive ones on different nodes.
/// </summary>
[TestFixture(Route.Direct)]
[TestFixture(Route.Nginx)]
public sealed class CrossNodeDeliveryTests(Route route) : ClusterTestBase
{
    [SetUp]
    public Task Start() => StartClusterAsync(new ClusterOptions { WithNginx = route == Route.Nginx });

    /// <summary>Where the first user goes (node A, or nginx).</summary>
    private ChatEndpoint First => route == Route.Direct ? Cluster.A : Cluster.Nginx;

    /// <summary>Where the second user goes (node B, or nginx).</summary>
    private ChatEndpoint Second => route == Route.Direct ? Cluster.B : Cluster.Nginx;

    [Test]
    public async Task TheSeedScenarioWorksWithSenderAndReceiverOnDifferentNodes()
    {
        var purna = await First.RegisterAsync("purnaacharya", "Purna Acharya", "purna@example.com");
        var sishir = await Second.RegisterAsync("sishirbhusal", "Sishir Bhusal", "sishir@example.com");
        using (var client = First.CreateClient(purna.Token))
        {
            var content = new ByteArrayContent([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]);
            content.Headers.ContentType = new("image/png");
            Assert.That((int)(await client.PutAsync("/api/users/me/avatar", content)).StatusCode, Is.EqualTo(200));
        }

        // 1. purnaacharya is connected; sishirbhusal (on the other node) searches "purna" and finds her, with her picture.
        await using var purnaSocket = await First.ConnectAsync(purna);
        await using var sishirSocket = await Second.ConnectAsync(sishir);
        var found = (await Second.GetAsync(sishir, "/api/users/search?q=purna"))["results"]!.AsArray().Single()!.AsObject();
        FrameAssert.HasExactKeys(found, FrameAssert.UserKeys);
        Assert.That(found.Str("username"), Is.EqualTo("purnaacharya"));
        Assert.That(found.Str("profile_picture"), Does.StartWith("/api/users/purnaacharya/avatar?v="));

        // 2. He sends "Hello" over HTTP.
        var sent = await Second.SendAsync(sishir, "purnaacharya", "Hello");
        Assert.That(sent.Bool("is_new_conversation"), Is.True);

        // 3. Her socket gets chat_message then conversation_refresh; his gets message_sent.
        var chat = await purnaSocket.ExpectAsync("chat_message");
        FrameAssert.HasExactKeys(chat, FrameAssert.MessageFrameKeys);
        Assert.Multiple(() =>
        {
            Assert.That(chat.Str("message"), Is.EqualTo("Hello"));
            Assert.That(chat.Long("message_id"), Is.EqualTo(sent.Long("message_id")));
            Assert.That(chat.Long("conversation_id"), Is.EqualTo(sent.Long("conversation_id")));
            Assert.That(chat.Bool("is_new_conversation"), Is.True);
            Assert.That(chat.Str("sender_full_name"), Is.EqualTo("Sishir Bhusal"));
            Assert.That(chat.Str("sender_email"), Is.EqualTo("sishir@example.com"));
            Assert.That(chat.Str("receiver_full_name"), Is.EqualTo("Purna Acharya"));
            Assert.That(chat.Str("receiver_email"), Is.EqualTo("purna@example.com"));
        });
        var refresh = await purnaSocket.ExpectAsync("conversation_refresh");
        FrameAssert.HasExactKeys(refresh, FrameAssert.ConversationRefreshKeys);
        Assert.That(refresh.Long("conversation_id"), Is.EqualTo(sent.Long("conversation_id")));
        Assert.That(refresh.Str("sender_full_name"), Is.EqualTo("Sishir Bhusal"));
        var echo = await sishirSocket.ExpectAsync("message_sent");
        FrameAssert.HasExactKeys(echo, FrameAssert.MessageFrameKeys);
        chat["type"] = "message_sent";
        Assert.That(JsonNode.DeepEquals(echo, chat), Is.True, $"message_sent {echo.ToJsonString()} carries chat_message's fields {chat.ToJsonString()}");

        // 4. Her conversation list holds it, unread 1.
        var conversation = (await First.GetAsync(purna, "/api/conversations"))["conversations"]!.AsArray().Single()!.AsObject();
        FrameAssert.HasExactKeys(conversation, FrameAssert.ConversationKeys);
        Assert.That(conversation.Long("unread_count"), Is.EqualTo(1));
        Assert.That(conversation["last_message"]!.AsObject().Long("message_id"), Is.EqualTo(sent.Long("message_id")));

        // 5. A second message, as a frame, is not new and brings no conversation_refresh.
        await sishirSocket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "purnaacharya", ["message"] = "How are you?", ["client_msg_id"] = "m2" });
        Assert.That((await sishirSocket.ExpectAsync("message_sent")).Bool("is_new_conversation"), Is.False);
        var ack = await sishirSocket.ExpectAsync("ack");
        FrameAssert.HasExactKeys(ack, FrameAssert.AckKeys);
        var second = await purnaSocket.ExpectAsync("chat_message");
        Assert.That(second.Bool("is_new_conversation"), Is.False);
        Assert.That(second.Long("message_id"), Is.EqualTo(ack.Long("message_id")));
        Assert.That((await purnaSocket.DrainAsync()).Select(f => f.Type()), Has.None.EqualTo("conversation_refresh"));
    }

    [Test]
    public async Task EverySocketOfAUserOnEitherNodeGetsEachFrame()
    {
        var alice = await First.RegisterAsync("alice");
        var bob = await Second.RegisterAsync("bob");
        // Each user has a device on each node (through nginx: four consecutive sockets alternate nodes).
        await using var alice1 = await Devices[0].ConnectAsync(alice);
        await using var alice2 = await Devices[1].ConnectAsync(alice);
        await using var bob1 = await Devices[1].ConnectAsync(bob);
        await using var bob2 = await Devices[0].ConnectAsync(bob);

        await alice1.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = "hi", ["client_msg_id"] = "x" });
        var id = (await alice1.ReceivedAsync("ack")).Long("message_id");
        foreach (var (name, socket) in new[] { ("bob's first device", bob1), ("bob's second device", bob2) })
        {
            var chat = await socket.ReceivedAsync("chat_message", f => f.Long("message_id") == id);
            FrameAssert.HasExactKeys(chat, FrameAssert.MessageFrameKeys);
            FrameAssert.HasExactKeys(await socket.ReceivedAsync("conversation_refresh"), FrameAssert.ConversationRefreshKeys);
        }
        foreach (var socket in new[] { alice1, alice2 })
            FrameAssert.HasExactKeys(await socket.ReceivedAsync("message_sent", f => f.Long("message_id") == id), FrameAssert.MessageFrameKeys);

        var reply = (await Cluster.B.SendAsync(bob, "alice", "hello back")).Long("message_id");
        foreach (var socket in new[] { alice1, alice2 })
            await socket.ReceivedAsync("chat_message", f => f.Long("message_id") == reply);
        foreach (var socket in new[] { bob1, bob2 })
            await socket.ReceivedAsync("message_sent", f => f.Long("message_id") == reply);
        foreach (var socket in new[] { alice1, alice2, bob1, bob2 })
            Assert.That(socket.Frames().Where(f => f.Type() is "chat_message" or "message_sent").Select(f => f.Long("message_id")), Is.EqualTo(new[] { id, reply }),
                "each device got each message once, in order");
    }

    [Test]
    public async Task AReadReceiptReachesBothParticipantsOnTheirNodes()
    {
        var alice = await First.RegisterAsync("alice");
        var bob = await Second.RegisterAsync("bob");
        var last = await First.SendAsync(alice, "bob", "read me");
        await using var aliceSocket = await First.ConnectAsync(alice);
        await using var bobSocket = await Second.ConnectAsync(bob);

        await bobSocket.SendAsync(new JsonObject { ["type"] = "mark_read", ["conversation_id"] = last.Long("conversation_id") });
        foreach (var (name, socket) in new[] { ("reader bob", bobSocket), ("sender alice", aliceSocket) })
        {
            var read = await socket.WaitForAsync("messages_read");
            FrameAssert.HasExactKeys(read, FrameAssert.MessagesReadKeys);
            Assert.That(read.Str("reader"), Is.EqualTo("bob"), name);
            Assert.That(read.Long("conversation_id"), Is.EqualTo(last.Long("conversation_id")), name);
            Assert.That(read.Long("up_to_message_id"), Is.EqualTo(last.Long("message_id")), name);
        }
    }

    [Test]
    public async Task TypingReachesThePartnerOnTheOtherNode()
    {
        var alice = await First.RegisterAsync("alice", "Alice Liddell");
        var bob = await Second.RegisterAsync("bob");
        var first = await First.SendAsync(alice, "bob", "hi");
        await using var aliceSocket = await First.ConnectAsync(alice);
        await using var bobSocket = await Second.ConnectAsync(bob);

        await aliceSocket.SendAsync(new JsonObject { ["type"] = "typing", ["receiver"] = "bob" });
        var typing = await bobSocket.WaitForAsync("typing");
        FrameAssert.HasExactKeys(typing, FrameAssert.TypingKeys);
        Assert.That(typing.Str("sender"), Is.EqualTo("alice"));
        Assert.That(typing.Str("sender_full_name"), Is.EqualTo("Alice Liddell"));
        Assert.That(typing.Long("conversation_id"), Is.EqualTo(first.Long("conversation_id")));
    }

    [Test]
    public async Task PresenceShowsAPartnerOnlineAndOfflineAcrossNodes()
    {
        var alice = await First.RegisterAsync("alice");
        var bob = await Second.RegisterAsync("bob");
        await First.SendAsync(alice, "bob", "hi");
        await using var aliceSocket = await First.ConnectAsync(alice);
        var bobSocket = await Second.ConnectAsync(bob);

        // bob's first socket opens: alice sees him online; his new socket is told alice is online.
        var online = await aliceSocket.WaitForAsync("presence");
        FrameAssert.HasExactKeys(online, FrameAssert.PresenceKeys);
        Assert.That((online.Str("username"), online.Bool("online")), Is.EqualTo(("bob", true)));
        var partner = await bobSocket.ExpectAsync("presence");
        Assert.That((partner.Str("username"), partner.Bool("online")), Is.EqualTo(("alice", true)));

        // bob's last socket closes: alice sees him offline.
        await bobSocket.DisposeAsync();
        var offline = await aliceSocket.WaitForAsync("presence");
        FrameAssert.HasExactKeys(offline, FrameAssert.PresenceKeys);
        Assert.That((offline.Str("username"), offline.Bool("online")), Is.EqualTo(("bob", false)));
    }

    [Test]
    public async Task SyncFromZeroGivesTheSameAnswerOnBothNodes()
    {
        var alice = await First.RegisterAsync("alice");
        var bob = await Second.RegisterAsync("bob");
        // Connected before the sends, and drained of their live frames before the syncs: a socket that connects while
        // the last frames are still on their way may get one live before its replay (allowed: clients de-duplicate by
        // message_id), which would make the two answers differ for a reason that is not sync's.
        await using var onOneNode = await Devices[0].ConnectAsync(alice);
        await using var onTheOther = await Devices[1].ConnectAsync(alice);
        long last = 0;
        for (var i = 0; i < 20; i++)
        {
            var receipt = i % 2 == 0 ? await Cluster.A.SendAsync(alice, "bob", $"a{i}") : await Cluster.B.SendAsync(bob, "alice", $"b{i}");
            last = receipt.Long("message_id");
        }
        foreach (var socket in new[] { onOneNode, onTheOther })
            while (await socket.NextAsync() is var live && !(live.Type() is "chat_message" or "message_sent" && live.Long("message_id") == last)) { }

        var one = await onOneNode.SyncAllAsync();
        var other = await onTheOther.SyncAllAsync();

        Assert.That(one.Count(f => f.Type() is "chat_message" or "message_sent"), Is.EqualTo(20));
        Assert.That(one.Count(f => f.Type() == "conversation_refresh"), Is.Zero, "alice created the conversation: no refresh for her");
        Assert.That(other.Select(f => f.ToJsonString()), Is.EqualTo(one.Select(f => f.ToJsonString())), "the same frames, byte for byte, in the same order");
    }

    /// <summary>A user's two devices: one on each node (through nginx: two consecutive sockets).</summary>
    private ChatEndpoint[] Devices => route == Route.Direct ? [Cluster.A, Cluster.B] : [Cluster.Nginx, Cluster.Nginx];
}
