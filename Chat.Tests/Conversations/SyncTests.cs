using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary><c>sync</c>: a client that was offline catches up in order, with no loss and no duplicates.</summary>
[BothStores]
public sealed class SyncTests
{
    private static readonly string[] MessageTypes = ["chat_message", "message_sent", "conversation_refresh"];

    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        _alice = await _app.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        _bob = await _app.RegisterAsync("bob", "Bob Builder", "bob@example.com");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    /// <summary>Sends a sync and returns every frame up to and including <c>sync_complete</c>, presence left out.</summary>
    private static async Task<List<JsonObject>> SyncAsync(ChatSocket socket, long after, int? limit = null)
    {
        await socket.SendAsync(SyncFrame(after, limit));
        var frames = await CollectAsync(socket, fs => fs.Count > 0 && fs[^1].Type() == "sync_complete");
        return frames.Where(f => f.Type() != "presence").ToList();
    }

    private static void AssertSyncComplete(JsonObject frame, long lastMessageId, bool hasMore)
    {
        Assert.That(frame.Type(), Is.EqualTo("sync_complete"), frame.ToJsonString());
        FrameAssert.HasExactKeys(frame, FrameAssert.SyncCompleteKeys);
        Assert.Multiple(() =>
        {
            Assert.That(frame.Long("last_message_id"), Is.EqualTo(lastMessageId));
            Assert.That(frame.Bool("has_more"), Is.EqualTo(hasMore));
        });
    }

    [Test]
    public async Task SyncReplaysMissedMessagesInOrderWithConversationRefreshAfterTheCreatingMessage()
    {
        var carol = await _app.RegisterAsync("carol");
        // bob is offline for all of these; two of them create a conversation.
        var a1 = await _alice.SendAsync("bob", "a1");
        var a2 = await _alice.SendAsync("bob", "a2");
        var c1 = await carol.SendAsync("bob", "c1");
        var a3 = await _alice.SendAsync("bob", "a3");

        await using var socket = await _bob.ConnectAsync();
        var connected = await socket.ExpectAsync("connected");
        Assert.That(connected.Long("last_message_id"), Is.EqualTo(a3.Long("message_id")));

        var frames = await SyncAsync(socket, 0);
        Assert.That(frames.Select(f => f.Type()), Is.EqualTo(new[]
        {
            "chat_message", "conversation_refresh", "chat_message", "chat_message", "conversation_refresh", "chat_message", "sync_complete",
        }));
        var chats = OfType(frames, "chat_message");
        foreach (var chat in chats) FrameAssert.HasExactKeys(chat, FrameAssert.MessageFrameKeys);
        var refreshes = OfType(frames, "conversation_refresh");
        foreach (var refresh in refreshes) FrameAssert.HasExactKeys(refresh, FrameAssert.ConversationRefreshKeys);
        Assert.Multiple(() =>
        {
            Assert.That(Ids(chats), Is.EqualTo(new[] { a1, a2, c1, a3 }.Select(m => m.Long("message_id"))));
            Assert.That(chats.Select(c => c.Str("message")), Is.EqualTo(new[] { "a1", "a2", "c1", "a3" }));
            Assert.That(chats.Select(c => c.Bool("is_new_conversation")), Is.EqualTo(new[] { true, false, true, false }));
            Assert.That(refreshes[0].Long("conversation_id"), Is.EqualTo(a1.Long("conversation_id")));
            Assert.That(refreshes[0].Str("sender"), Is.EqualTo("alice"));
            Assert.That(refreshes[1].Long("conversation_id"), Is.EqualTo(c1.Long("conversation_id")));
            Assert.That(refreshes[1].Str("sender"), Is.EqualTo("carol"));
        });
        AssertSyncComplete(frames[^1], a3.Long("message_id"), hasMore: false);
    }

    [Test]
    public async Task SyncWithLimitReportsHasMoreAndPagesWithoutDuplicates()
    {
        var ids = new List<long>();
        for (var i = 0; i < 4; i++) ids.Add((await _alice.SendAsync("bob", $"m{i}")).Long("message_id"));
        await using var socket = await OpenAsync(_bob);

        var page1 = await SyncAsync(socket, 0, limit: 2);
        Assert.That(page1.Select(f => f.Type()), Is.EqualTo(new[] { "chat_message", "conversation_refresh", "chat_message", "sync_complete" }));
        AssertSyncComplete(page1[^1], ids[1], hasMore: true);

        // Exactly the rest: has_more is false though the page is full.
        var page2 = await SyncAsync(socket, page1[^1].Long("last_message_id"), limit: 2);
        Assert.That(page2.Select(f => f.Type()), Is.EqualTo(new[] { "chat_message", "chat_message", "sync_complete" }));
        AssertSyncComplete(page2[^1], ids[3], hasMore: false);

        var replayed = Ids(OfType(page1, "chat_message")).Concat(Ids(OfType(page2, "chat_message"))).ToList();
        Assert.That(replayed, Is.EqualTo(ids), "every message once, in order");

        // Nothing after the last: an empty page that keeps after_message_id.
        var page3 = await SyncAsync(socket, ids[3], limit: 2);
        Assert.That(page3, Has.Count.EqualTo(1));
        AssertSyncComplete(page3[0], ids[3], hasMore: false);
    }

    [Test]
    public async Task SyncPagesThroughInterleavedConversationsWithExactlyTheUsersOwnMessages()
    {
        // bob has three conversations, one far longer than a page; alice and carol also talk to each other in between,
        // and none of that is bob's. Paging with a limit smaller than the long conversation must give exactly bob's
        // messages, sent and received, once each and in id order.
        var carol = await _app.RegisterAsync("carol");
        var dave = await _app.RegisterAsync("dave");
        var bobs = new List<long>();
        async Task Send(TestUser from, string to, string text, bool isBobs)
        {
            var id = (await from.SendAsync(to, text)).Long("message_id");
            if (isBobs) bobs.Add(id);
        }
        for (var i = 0; i < 7; i++)
        {
            await Send(_alice, "bob", $"a{i}", true);
            await Send(_alice, "carol", $"ac{i}", false);
            if (i % 2 == 0) await Send(_bob, "carol", $"bc{i}", true);
            if (i % 3 == 0) await Send(dave, "bob", $"d{i}", true);
            await Send(carol, "alice", $"ca{i}", false);
        }
        await Send(_bob, "alice", "last of bob's", true);
        await Send(carol, "alice", "newest of all, not bob's", false);

        await using var socket = await _bob.ConnectAsync();
        Assert.That((await socket.ExpectAsync("connected")).Long("last_message_id"), Is.EqualTo(bobs[^1]),
            "connected gives bob's newest message, not the newest of all");

        var replayed = new List<long>();
        long after = 0;
        for (var pages = 0; ; pages++)
        {
            Assert.That(pages, Is.LessThan(10), "paging ends");
            var page = await SyncAsync(socket, after, limit: 3);
            var ids = Ids(OfType(page, "chat_message", "message_sent"));
            Assert.That(ids, Has.Count.LessThanOrEqualTo(3));
            replayed.AddRange(ids);
            var complete = page[^1];
            AssertSyncComplete(complete, ids.Count > 0 ? ids[^1] : after, hasMore: replayed.Count < bobs.Count);
            if (!complete.Bool("has_more")) break;
            after = complete.Long("last_message_id");
        }
        Assert.That(replayed, Is.EqualTo(bobs), "every message of bob's once, in order, and nobody else's");

        // From the middle of bob's history, with the default limit: the rest, in order.
        var middle = bobs[bobs.Count / 2];
        var rest = await SyncAsync(socket, middle);
        Assert.That(Ids(OfType(rest, "chat_message", "message_sent")), Is.EqualTo(bobs.Where(id => id > middle)));
        AssertSyncComplete(rest[^1], bobs[^1], hasMore: false);
    }

    [Test]
    public async Task SyncReplaysOwnMessagesAsMessageSent()
    {
        var a1 = await _alice.SendAsync("bob", "a1");
        var a2 = await _alice.SendAsync("bob", "a2");
        var b1 = await _bob.SendAsync("alice", "b1");

        await using var socket = await OpenAsync(_alice);
        var frames = await SyncAsync(socket, 0);
        Assert.That(frames.Select(f => f.Type()), Is.EqualTo(new[] { "message_sent", "message_sent", "chat_message", "sync_complete" }));
        foreach (var frame in frames.Take(3)) FrameAssert.HasExactKeys(frame, FrameAssert.MessageFrameKeys);
        Assert.Multiple(() =>
        {
            Assert.That(Ids(frames.Take(3)), Is.EqualTo(new[] { a1, a2, b1 }.Select(m => m.Long("message_id"))));
            Assert.That(frames[0].Str("sender"), Is.EqualTo("alice"));
            Assert.That(frames[0].Str("receiver"), Is.EqualTo("bob"));
            Assert.That(frames[0].Bool("is_new_conversation"), Is.True);
            Assert.That(frames[2].Str("sender"), Is.EqualTo("bob"));
        });
        AssertSyncComplete(frames[^1], b1.Long("message_id"), hasMore: false);
    }

    [Test]
    public async Task SyncFromTheMiddleReplaysOnlyLaterMessages()
    {
        var ids = new List<long>();
        for (var i = 0; i < 3; i++) ids.Add((await _alice.SendAsync("bob", $"m{i}")).Long("message_id"));
        await using var socket = await OpenAsync(_bob);
        var frames = await SyncAsync(socket, ids[0]);
        Assert.That(frames.Select(f => f.Type()), Is.EqualTo(new[] { "chat_message", "chat_message", "sync_complete" }));
        Assert.That(Ids(frames.Take(2)), Is.EqualTo(ids.Skip(1)));
    }

    [Test]
    public async Task ReplayedFramesAreIdenticalToLiveFrames()
    {
        await using var aliceLive = await OpenAsync(_alice);
        await using var bobLive = await OpenAsync(_bob);

        // A mix: the creating message over WebSocket, the rest over HTTP, from both sides.
        await aliceLive.SendAsync(SendFrame("bob", "over the socket", "w1"));
        var aliceEarly = await CollectAsync(aliceLive, fs => OfType(fs, "ack").Count == 1);
        await _alice.SendAsync("bob", "over http");
        await _bob.SendAsync("alice", "a reply");
        await _alice.SendAsync("bob", "last one");

        var bobFrames = OfType(await CollectAsync(bobLive, fs => OfType(fs, MessageTypes).Count == 5), MessageTypes);
        var aliceFrames = OfType(aliceEarly, MessageTypes);
        aliceFrames.AddRange(OfType(await CollectAsync(aliceLive, fs => OfType(fs, MessageTypes).Count == 4 - aliceFrames.Count), MessageTypes));
        Assert.That(bobFrames.Select(f => f.Type()),
            Is.EqualTo(new[] { "chat_message", "conversation_refresh", "chat_message", "message_sent", "chat_message" }));
        Assert.That(aliceFrames.Select(f => f.Type()), Is.EqualTo(new[] { "message_sent", "message_sent", "chat_message", "message_sent" }));

        foreach (var (user, live) in new[] { (_bob, bobFrames), (_alice, aliceFrames) })
        {
            await using var fresh = await OpenAsync(user);
            var replayed = await SyncAsync(fresh, 0);
            Assert.That(replayed[^1].Type(), Is.EqualTo("sync_complete"));
            replayed.RemoveAt(replayed.Count - 1);
            Assert.That(replayed, Has.Count.EqualTo(live.Count), user.Username);
            for (var i = 0; i < live.Count; i++)
                Assert.That(JsonNode.DeepEquals(replayed[i], live[i]), Is.True,
                    $"{user.Username} frame {i}: live {live[i].ToJsonString()} replayed {replayed[i].ToJsonString()}");
        }
    }
}
