using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Realtime.RealtimeTestHelpers;

namespace Chat.Tests.Realtime;

/// <summary>Section 1: restarting on an existing database keeps every user, token, conversation, message and read state.</summary>
[BothStores(Transport.TestHost)]
[BothStores(Transport.Kestrel)]
public sealed class RestartTests(Transport transport)
{
    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(transport);

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task RestartOnTheSameDatabaseKeepsTokensLoginConversationsHistoryAndLastMessageId()
    {
        var alice = await _app.RegisterAsync("alice", "Alice A", "alice@example.com");
        var bob = await _app.RegisterAsync("bob");

        var first = await alice.SendAsync("bob", "over http");
        long secondId;
        await using (var bobSocket = await bob.ConnectReadyAsync())
        {
            await bobSocket.SendAsync(SendMessageFrame("alice", "over a frame", "f1"));
            secondId = (await bobSocket.WaitForAsync("ack")).Long("message_id");
        }
        var firstId = first.Long("message_id");
        var conversationId = first.Long("conversation_id");
        Assert.That(secondId, Is.GreaterThan(firstId));

        await using var next = await _app.RestartAsync();
        var alice2 = alice with { App = next };
        var bob2 = bob with { App = next };

        // The old tokens still work, over HTTP and for a new socket.
        var me = await alice2.GetAsync("/api/users/me");
        Assert.That(me.Str("username"), Is.EqualTo("alice"));
        Assert.That(me.Str("full_name"), Is.EqualTo("Alice A"));
        Assert.That(me.Str("email"), Is.EqualTo("alice@example.com"));
        Assert.That((await bob2.GetAsync("/api/users/me")).Str("username"), Is.EqualTo("bob"));

        // Login still works (the password hash survived).
        var freshToken = await next.LoginAsync("alice", alice.Password);
        Assert.That(freshToken, Is.Not.EqualTo(alice.Token));

        // The conversation list and history still hold both messages.
        var aliceList = (await alice2.GetAsync("/api/conversations"))["conversations"]!.AsArray();
        Assert.That(aliceList, Has.Count.EqualTo(1));
        var conversation = aliceList[0]!.AsObject();
        Assert.Multiple(() =>
        {
            Assert.That(conversation.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(conversation["other_user"]!.AsObject().Str("username"), Is.EqualTo("bob"));
            Assert.That(conversation["last_message"]!.AsObject().Long("message_id"), Is.EqualTo(secondId));
            Assert.That(conversation["last_message"]!.AsObject().Str("message"), Is.EqualTo("over a frame"));
            Assert.That(conversation.Long("unread_count"), Is.EqualTo(1), "bob's frame message is unread for alice");
        });
        var bobList = (await bob2.GetAsync("/api/conversations"))["conversations"]!.AsArray();
        Assert.That(bobList.Single()!.AsObject().Long("unread_count"), Is.EqualTo(1), "alice's HTTP message is unread for bob");

        var history = (await alice2.GetAsync($"/api/conversations/{conversationId}/messages"))["messages"]!.AsArray()
            .Select(m => m!.AsObject()).ToList();
        Assert.That(history.Select(m => m.Long("message_id")), Is.EqualTo(new[] { firstId, secondId }));
        Assert.That(history.Select(m => m.Str("message")), Is.EqualTo(new[] { "over http", "over a frame" }));
        Assert.That(history.Select(m => m.Str("sender")), Is.EqualTo(new[] { "alice", "bob" }));

        // A new socket opened with the old token reports the last id.
        await using (var aliceSocket = await alice2.ConnectAsync())
        {
            var connected = await aliceSocket.ExpectAsync("connected");
            Assert.That(connected.Long("last_message_id"), Is.EqualTo(secondId));
        }
        await using (var bobSocket = await bob2.ConnectAsync(viaQuery: true))
        {
            var connected = await bobSocket.ExpectAsync("connected");
            Assert.That(connected.Long("last_message_id"), Is.EqualTo(secondId));
        }

        // The conversation is the same one: the next message continues it with a larger id.
        var third = await alice2.SendAsync("bob", "after restart");
        Assert.That(third.Long("conversation_id"), Is.EqualTo(conversationId));
        Assert.That(third.Bool("is_new_conversation"), Is.False);
        Assert.That(third.Long("message_id"), Is.GreaterThan(secondId));
    }

    [Test]
    public async Task RestartKeepsReadState()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var sent = await alice.SendAsync("bob", "read me");
        await alice.SendAsync("bob", "and me");
        using (var client = bob.Client())
        {
            var read = await client.PostAsJsonAsync($"/api/conversations/{sent.Long("conversation_id")}/read",
                new JsonObject { ["up_to_message_id"] = sent.Long("message_id") });
            Assert.That((int)read.StatusCode, Is.EqualTo(200));
        }

        await using var next = await _app.RestartAsync();
        var list = (await (bob with { App = next }).GetAsync("/api/conversations"))["conversations"]!.AsArray();
        Assert.That(list.Single()!.AsObject().Long("unread_count"), Is.EqualTo(1), "the first message stays read, the second unread");
    }
}
