using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary><c>GET /api/conversations</c>: order, items, unread counts and the limit rules.</summary>
[BothStores]
public sealed class ConversationListTests
{
    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(Transport.TestHost);

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task ConversationListIsNewestActivityFirst()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var carol = await _app.RegisterAsync("carol");
        var dave = await _app.RegisterAsync("dave");

        // The conversation with bob is created first but has the newest message.
        var withBob = await alice.SendAsync("bob", "1");
        var withCarol = await carol.SendAsync("alice", "2");
        var withDave = await alice.SendAsync("dave", "3");
        var bobAgain = await bob.SendAsync("alice", "4");

        var list = await ConversationsAsync(alice);
        Assert.Multiple(() =>
        {
            Assert.That(list.Select(c => c["other_user"]!.AsObject().Str("username")), Is.EqualTo(new[] { "bob", "dave", "carol" }));
            Assert.That(list.Select(c => c.Long("conversation_id")),
                Is.EqualTo(new[] { withBob.Long("conversation_id"), withDave.Long("conversation_id"), withCarol.Long("conversation_id") }));
            Assert.That(list.Select(c => c["last_message"]!.AsObject().Long("message_id")),
                Is.EqualTo(new[] { bobAgain.Long("message_id"), withDave.Long("message_id"), withCarol.Long("message_id") }));
        });

        // New activity moves a conversation to the top.
        var carolAgain = await carol.SendAsync("alice", "5");
        list = await ConversationsAsync(alice);
        Assert.That(list.Select(c => c["other_user"]!.AsObject().Str("username")), Is.EqualTo(new[] { "carol", "bob", "dave" }));
        Assert.That(list[0]["last_message"]!.AsObject().Long("message_id"), Is.EqualTo(carolAgain.Long("message_id")));
    }

    [Test]
    public async Task ConversationListItemHasExactKeysOtherUserAndLastMessage()
    {
        var alice = await _app.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        var bob = await _app.RegisterAsync("bob");
        var before = UnixNow();
        var first = await alice.SendAsync("bob", "first");
        var reply = await bob.SendAsync("alice", "second, a reply ✓");
        var conversationId = first.Long("conversation_id");

        var mine = (await ConversationsAsync(alice)).Single();
        var theirs = (await ConversationsAsync(bob)).Single();
        foreach (var item in new[] { mine, theirs })
        {
            FrameAssert.HasExactKeys(item, FrameAssert.ConversationKeys);
            FrameAssert.HasExactKeys(item["other_user"]!.AsObject(), FrameAssert.UserKeys);
            FrameAssert.HasExactKeys(item["last_message"]!.AsObject(), FrameAssert.MessageKeys);
        }

        Assert.Multiple(() =>
        {
            Assert.That(mine.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(theirs.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(JsonNode.DeepEquals(mine["other_user"],
                new JsonObject { ["username"] = "bob", ["full_name"] = "bob", ["email"] = "", ["profile_picture"] = null }), Is.True,
                mine["other_user"]!.ToJsonString());
            Assert.That(JsonNode.DeepEquals(theirs["other_user"],
                new JsonObject { ["username"] = "alice", ["full_name"] = "Alice Liddell", ["email"] = "alice@example.com", ["profile_picture"] = null }), Is.True,
                theirs["other_user"]!.ToJsonString());

            var expectedLast = new JsonObject
            {
                ["message_id"] = reply.Long("message_id"),
                ["conversation_id"] = conversationId,
                ["sender"] = "bob",
                ["receiver"] = "alice",
                ["message"] = "second, a reply ✓",
                ["timestamp"] = reply.Long("timestamp"),
                ["is_read"] = false,
            };
            Assert.That(JsonNode.DeepEquals(mine["last_message"], expectedLast), Is.True, mine["last_message"]!.ToJsonString());
            Assert.That(JsonNode.DeepEquals(theirs["last_message"], expectedLast), Is.True, theirs["last_message"]!.ToJsonString());

            // created_at is when the first message created the conversation, the same for both, in Unix seconds.
            Assert.That(mine.Long("created_at"), Is.InRange(before, first.Long("timestamp")));
            Assert.That(theirs.Long("created_at"), Is.EqualTo(mine.Long("created_at")));
        });
    }

    [Test]
    public async Task ConversationCreatedAtDoesNotChangeWithLaterMessages()
    {
        var alice = await _app.RegisterAsync("alice");
        await _app.RegisterAsync("bob");
        await alice.SendAsync("bob", "first");
        var createdAt = (await ConversationsAsync(alice)).Single().Long("created_at");
        // Cross a second boundary so a clock-based created_at would differ.
        var next = createdAt + 1;
        while (UnixNow() < next) await Task.Delay(50);
        var later = await alice.SendAsync("bob", "later");
        Assert.That(later.Long("timestamp"), Is.GreaterThan(createdAt));
        Assert.That((await ConversationsAsync(alice)).Single().Long("created_at"), Is.EqualTo(createdAt));
    }

    [Test]
    public async Task UnreadCountBeforeAndAfterReadingForBothParticipants()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var first = await alice.SendAsync("bob", "a1");
        await alice.SendAsync("bob", "a2");
        await alice.SendAsync("bob", "a3");
        await bob.SendAsync("alice", "b1");
        var id = first.Long("conversation_id");

        var aliceView = await ConversationAsync(alice, id);
        var bobView = await ConversationAsync(bob, id);
        Assert.Multiple(() =>
        {
            Assert.That(aliceView.Long("unread_count"), Is.EqualTo(1));
            Assert.That(bobView.Long("unread_count"), Is.EqualTo(3));
        });

        // bob reads: only his count changes; the last message (his, to alice) is still unread by alice.
        await MarkReadAsync(bob, id);
        aliceView = await ConversationAsync(alice, id);
        bobView = await ConversationAsync(bob, id);
        Assert.Multiple(() =>
        {
            Assert.That(bobView.Long("unread_count"), Is.Zero);
            Assert.That(aliceView.Long("unread_count"), Is.EqualTo(1));
            Assert.That(aliceView["last_message"]!.AsObject().Bool("is_read"), Is.False);
            Assert.That(bobView["last_message"]!.AsObject().Bool("is_read"), Is.False);
        });

        // alice reads: her count drops too, and the last message is read in both views.
        await MarkReadAsync(alice, id);
        aliceView = await ConversationAsync(alice, id);
        bobView = await ConversationAsync(bob, id);
        Assert.Multiple(() =>
        {
            Assert.That(aliceView.Long("unread_count"), Is.Zero);
            Assert.That(bobView.Long("unread_count"), Is.Zero);
            Assert.That(aliceView["last_message"]!.AsObject().Bool("is_read"), Is.True);
            Assert.That(bobView["last_message"]!.AsObject().Bool("is_read"), Is.True);
        });

        // A new message counts again for its receiver only.
        await alice.SendAsync("bob", "a4");
        var bobUnread = (await ConversationAsync(bob, id)).Long("unread_count");
        var aliceUnread = (await ConversationAsync(alice, id)).Long("unread_count");
        Assert.Multiple(() =>
        {
            Assert.That(bobUnread, Is.EqualTo(1));
            Assert.That(aliceUnread, Is.Zero);
        });
    }

    [Test]
    public async Task ConversationListLimitDefaultsTo50AndIsClampedTo200()
    {
        var alice = await _app.RegisterAsync("alice");
        using var gate = new SemaphoreSlim(16);
        var partners = Enumerable.Range(0, 201).Select(i => $"user{i:D3}").ToList();
        await Task.WhenAll(partners.Select(async name =>
        {
            await gate.WaitAsync();
            try
            {
                var partner = await _app.RegisterAsync(name);
                await partner.SendAsync("alice", "hi");
            }
            finally
            {
                gate.Release();
            }
        }));

        var all = await ConversationsAsync(alice, "?limit=200");
        var byDefault = await ConversationsAsync(alice);
        var huge = await ConversationsAsync(alice, "?limit=100000");
        var one = await ConversationsAsync(alice, "?limit=1");
        Assert.Multiple(() =>
        {
            Assert.That(all, Has.Count.EqualTo(200));
            Assert.That(byDefault, Has.Count.EqualTo(50));
            Assert.That(huge, Has.Count.EqualTo(200));
            Assert.That(one, Has.Count.EqualTo(1));
            // Each page is the head of the same newest-first order.
            Assert.That(byDefault.Select(c => c.Long("conversation_id")), Is.EqualTo(all.Take(50).Select(c => c.Long("conversation_id"))));
            Assert.That(one[0].Long("conversation_id"), Is.EqualTo(all[0].Long("conversation_id")));
            var newestFirst = all.Select(c => c["last_message"]!.AsObject().Long("message_id")).ToList();
            Assert.That(newestFirst, Is.Ordered.Descending);
        });
    }

    [TestCase("0")]
    [TestCase("-1")]
    public async Task ConversationListLimitBelowOneIsBadRequest(string limit)
    {
        var alice = await _app.RegisterAsync("alice");
        await _app.RegisterAsync("bob");
        await alice.SendAsync("bob", "hi");
        AssertProblem(await GetRawAsync(alice, $"/api/conversations?limit={limit}"), 400, "bad_request");
    }
}
