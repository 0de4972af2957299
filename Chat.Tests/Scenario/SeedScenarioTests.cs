using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Scenario;

/// <summary>
/// The contract's section 4, step by step, over TestHost and over real Kestrel sockets on 127.0.0.1.
/// </summary>
[BothStores(Transport.TestHost)]
[BothStores(Transport.Kestrel)]
public sealed class SeedScenarioTests(Transport transport)
{
    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(transport);

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task SearchSendAndRealTimeDeliveryWorkEndToEnd()
    {
        var purna = await _app.RegisterAsync("purnaacharya", "Purna Acharya", "purna@example.com");
        var sishir = await _app.RegisterAsync("sishirbhusal", "Sishir Bhusal", "sishir@example.com");

        // 1. purnaacharya is connected; she has a profile picture.
        using (var client = purna.Client())
        {
            var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3 };
            var content = new ByteArrayContent(png);
            content.Headers.ContentType = new("image/png");
            var put = await client.PutAsync("/api/users/me/avatar", content);
            Assert.That((int)put.StatusCode, Is.EqualTo(200));
        }
        await using var purnaSocket = await purna.ConnectAsync();
        var connected = await purnaSocket.ExpectAsync("connected");
        FrameAssert.HasExactKeys(connected, FrameAssert.ConnectedKeys);
        Assert.That(connected.Str("username"), Is.EqualTo("purnaacharya"));
        Assert.That(connected.Long("last_message_id"), Is.Zero);

        await using var sishirSocket = await sishir.ConnectAsync();
        await sishirSocket.ExpectAsync("connected");

        // sishirbhusal searches "purna" and finds her with her profile picture.
        var search = await sishir.GetAsync("/api/users/search?q=purna");
        var results = search["results"]!.AsArray();
        Assert.That(results, Has.Count.EqualTo(1));
        var found = results[0]!.AsObject();
        FrameAssert.HasExactKeys(found, FrameAssert.UserKeys);
        Assert.That(found.Str("username"), Is.EqualTo("purnaacharya"));
        Assert.That(found.Str("full_name"), Is.EqualTo("Purna Acharya"));
        Assert.That(found.Str("profile_picture"), Does.StartWith("/api/users/purnaacharya/avatar?v="));

        // 2. He sends "Hello" over HTTP.
        var sent = await sishir.SendAsync("purnaacharya", "Hello");
        FrameAssert.HasExactKeys(sent, FrameAssert.SendResponseKeys);
        Assert.That(sent.Bool("is_new_conversation"), Is.True);
        var messageId = sent.Long("message_id");
        var conversationId = sent.Long("conversation_id");

        // 3. Her sockets get chat_message, then conversation_refresh; his get message_sent.
        var chat = await purnaSocket.ExpectAsync("chat_message");
        FrameAssert.HasExactKeys(chat, FrameAssert.MessageFrameKeys);
        Assert.Multiple(() =>
        {
            Assert.That(chat.Str("message"), Is.EqualTo("Hello"));
            Assert.That(chat.Str("sender"), Is.EqualTo("sishirbhusal"));
            Assert.That(chat.Str("receiver"), Is.EqualTo("purnaacharya"));
            Assert.That(chat.Long("message_id"), Is.EqualTo(messageId));
            Assert.That(chat.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(chat.Long("timestamp"), Is.EqualTo(sent.Long("timestamp")));
            Assert.That(chat.Bool("is_new_conversation"), Is.True);
            Assert.That(chat.Str("sender_full_name"), Is.EqualTo("Sishir Bhusal"));
            Assert.That(chat.Str("sender_email"), Is.EqualTo("sishir@example.com"));
            Assert.That(chat.Str("receiver_full_name"), Is.EqualTo("Purna Acharya"));
            Assert.That(chat.Str("receiver_email"), Is.EqualTo("purna@example.com"));
        });
        var refresh = await purnaSocket.ExpectAsync("conversation_refresh");
        FrameAssert.HasExactKeys(refresh, FrameAssert.ConversationRefreshKeys);
        Assert.Multiple(() =>
        {
            Assert.That(refresh.Str("message"), Is.EqualTo("New conversation created"));
            Assert.That(refresh.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(refresh.Str("sender"), Is.EqualTo("sishirbhusal"));
            Assert.That(refresh.Str("sender_full_name"), Is.EqualTo("Sishir Bhusal"));
            Assert.That(refresh.Str("sender_email"), Is.EqualTo("sishir@example.com"));
            Assert.That(refresh.Long("timestamp"), Is.EqualTo(sent.Long("timestamp")));
        });
        var echo = await sishirSocket.ExpectAsync("message_sent");
        FrameAssert.HasExactKeys(echo, FrameAssert.MessageFrameKeys);
        chat["type"] = "message_sent";
        Assert.That(JsonNode.DeepEquals(echo, chat), Is.True, "message_sent carries the same twelve fields as chat_message");

        // 4. Her conversation list holds it, unread 1, with the message as last_message.
        var list = await purna.GetAsync("/api/conversations");
        var conversation = list["conversations"]!.AsArray().Single()!.AsObject();
        FrameAssert.HasExactKeys(conversation, FrameAssert.ConversationKeys);
        Assert.That(conversation.Long("conversation_id"), Is.EqualTo(conversationId));
        Assert.That(conversation.Long("unread_count"), Is.EqualTo(1));
        Assert.That(conversation["other_user"]!.AsObject().Str("username"), Is.EqualTo("sishirbhusal"));
        var last = conversation["last_message"]!.AsObject();
        FrameAssert.HasExactKeys(last, FrameAssert.MessageKeys);
        Assert.That(last.Long("message_id"), Is.EqualTo(messageId));
        Assert.That(last.Str("message"), Is.EqualTo("Hello"));
        Assert.That(last.Bool("is_read"), Is.False);

        // 5. A second message (this time as a frame) is not new and brings no conversation_refresh.
        await sishirSocket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "purnaacharya", ["message"] = "How are you?", ["client_msg_id"] = "m2" });
        var sentAgain = await sishirSocket.ExpectAsync("message_sent");
        Assert.That(sentAgain.Bool("is_new_conversation"), Is.False);
        var ack = await sishirSocket.ExpectAsync("ack");
        FrameAssert.HasExactKeys(ack, FrameAssert.AckKeys);
        Assert.Multiple(() =>
        {
            Assert.That(ack.Str("client_msg_id"), Is.EqualTo("m2"));
            Assert.That(ack.Long("message_id"), Is.EqualTo(sentAgain.Long("message_id")));
            Assert.That(ack.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(ack.Long("timestamp"), Is.EqualTo(sentAgain.Long("timestamp")));
            Assert.That(ack.Bool("is_new_conversation"), Is.False);
        });
        var second = await purnaSocket.ExpectAsync("chat_message");
        Assert.That(second.Bool("is_new_conversation"), Is.False);
        Assert.That(second.Long("message_id"), Is.GreaterThan(messageId));
        var after = await purnaSocket.DrainAsync();
        Assert.That(after.Select(f => f.Type()), Has.None.EqualTo("conversation_refresh"));
    }

    [Test]
    public async Task EveryDeviceOfBothUsersGetsEveryFrame()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        await using var alice1 = await alice.ConnectAsync();
        await using var alice2 = await alice.ConnectAsync(viaQuery: true);
        await using var bob1 = await bob.ConnectAsync();
        await using var bob2 = await bob.ConnectAsync();
        foreach (var s in new[] { alice1, alice2, bob1, bob2 }) await s.ExpectAsync("connected");

        await alice1.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "BOB", ["message"] = "hi", ["client_msg_id"] = "x" });

        foreach (var s in new[] { bob1, bob2 })
        {
            var chat = await s.WaitForAsync("chat_message");
            Assert.That(chat.Str("receiver"), Is.EqualTo("bob"));
            await s.WaitForAsync("conversation_refresh");
        }
        await alice1.WaitForAsync("message_sent");
        await alice1.WaitForAsync("ack");
        await alice2.WaitForAsync("message_sent");
        var alice2Rest = await alice2.DrainAsync();
        Assert.That(alice2Rest.Select(f => f.Type()), Has.None.EqualTo("ack"), "the ack goes only to the socket that sent");
    }
}
