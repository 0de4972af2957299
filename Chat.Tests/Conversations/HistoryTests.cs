using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary><c>GET /api/conversations/{id}/messages</c>: paging, order, keys and <c>is_read</c>.</summary>
public sealed class HistoryTests : TwoUserTests
{
    /// <summary>Seven messages, alternating senders; returns the send responses in order.</summary>
    private async Task<List<JsonObject>> SevenMessagesAsync()
    {
        var sent = new List<JsonObject>();
        for (var i = 0; i < 7; i++)
            sent.Add(i % 2 == 0 ? await _alice.SendAsync("bob", $"m{i}") : await _bob.SendAsync("alice", $"m{i}"));
        return sent;
    }

    private static List<long> IdsOf(List<JsonObject> sent, int from, int count) =>
        sent.Skip(from).Take(count).Select(m => m.Long("message_id")).ToList();

    [Test]
    public async Task HistoryReturnsMessagesInAscendingOrderWithExactKeys()
    {
        var sent = await SevenMessagesAsync();
        var id = sent[0].Long("conversation_id");
        // A message in another conversation must not appear.
        await _app.RegisterAsync("carol");
        await _alice.SendAsync("carol", "elsewhere");

        var history = await HistoryAsync(_alice, id);
        Assert.That(Ids(history), Is.EqualTo(IdsOf(sent, 0, 7)));
        Assert.That(Ids(history), Is.Ordered.Ascending);
        for (var i = 0; i < 7; i++)
        {
            var m = history[i];
            FrameAssert.HasExactKeys(m, FrameAssert.MessageKeys);
            Assert.Multiple(() =>
            {
                Assert.That(m.Long("conversation_id"), Is.EqualTo(id));
                Assert.That(m.Str("sender"), Is.EqualTo(sent[i].Str("sender")));
                Assert.That(m.Str("receiver"), Is.EqualTo(sent[i].Str("receiver")));
                Assert.That(m.Str("message"), Is.EqualTo($"m{i}"));
                Assert.That(m.Long("timestamp"), Is.EqualTo(sent[i].Long("timestamp")));
                Assert.That(m.Bool("is_read"), Is.False);
            });
        }
        // Both participants see the same history.
        var theirs = await HistoryAsync(_bob, id);
        Assert.That(JsonNode.DeepEquals(new JsonArray([.. theirs.Select(m => m.DeepClone())]), new JsonArray([.. history.Select(m => m.DeepClone())])), Is.True);
    }

    [Test]
    public async Task HistoryPagesBackwardsWithBeforeAndLimit()
    {
        var sent = await SevenMessagesAsync();
        var id = sent[0].Long("conversation_id");

        var newest = await HistoryAsync(_alice, id, "?limit=3");
        Assert.That(Ids(newest), Is.EqualTo(IdsOf(sent, 4, 3)));
        var middle = await HistoryAsync(_alice, id, $"?before={newest[0].Long("message_id")}&limit=3");
        Assert.That(Ids(middle), Is.EqualTo(IdsOf(sent, 1, 3)));
        var oldest = await HistoryAsync(_alice, id, $"?before={middle[0].Long("message_id")}&limit=3");
        Assert.That(Ids(oldest), Is.EqualTo(IdsOf(sent, 0, 1)));

        // The pages together are the whole conversation, each message once.
        Assert.That(Ids(oldest).Concat(Ids(middle)).Concat(Ids(newest)), Is.EqualTo(IdsOf(sent, 0, 7)));
    }

    [Test]
    public async Task HistoryBeforeTheFirstMessageIsEmpty()
    {
        var sent = await SevenMessagesAsync();
        var history = await HistoryAsync(_alice, sent[0].Long("conversation_id"), $"?before={sent[0].Long("message_id")}");
        Assert.That(history, Is.Empty);
    }

    [Test]
    public async Task HistoryBeforeBeyondTheLastMessageReturnsTheNewest()
    {
        var sent = await SevenMessagesAsync();
        var id = sent[0].Long("conversation_id");
        var beyond = sent[^1].Long("message_id") + 1000;
        Assert.That(Ids(await HistoryAsync(_alice, id, $"?before={beyond}")), Is.EqualTo(IdsOf(sent, 0, 7)));
        Assert.That(Ids(await HistoryAsync(_alice, id, $"?before={beyond}&limit=2")), Is.EqualTo(IdsOf(sent, 5, 2)));
    }

    [Test]
    public async Task HistoryLimitOneReturnsOnlyTheNewestBelowBefore()
    {
        var sent = await SevenMessagesAsync();
        var id = sent[0].Long("conversation_id");
        Assert.That(Ids(await HistoryAsync(_alice, id, "?limit=1")), Is.EqualTo(IdsOf(sent, 6, 1)));
        Assert.That(Ids(await HistoryAsync(_alice, id, $"?limit=1&before={sent[3].Long("message_id")}")), Is.EqualTo(IdsOf(sent, 2, 1)));
    }

    [Test]
    public async Task HistoryLimitDefaultsTo50AndIsClampedTo200()
    {
        await using var socket = await OpenAsync(_alice);
        await FireAsync(socket, Enumerable.Range(0, 201).Select(i => SendFrame("bob", $"n{i}", $"c{i}")));
        var frames = await CollectAsync(socket, fs => fs.Count(f => f.Type() is "ack" or "error") == 201);
        Assert.That(OfType(frames, "error"), Is.Empty);
        var ids = OfType(frames, "ack").Select(a => a.Long("message_id")).Order().ToList();
        var id = OfType(frames, "ack")[0].Long("conversation_id");

        var byDefault = await HistoryAsync(_alice, id);
        var max = await HistoryAsync(_alice, id, "?limit=200");
        var huge = await HistoryAsync(_alice, id, "?limit=5000");
        Assert.Multiple(() =>
        {
            Assert.That(Ids(byDefault), Is.EqualTo(ids.Skip(151)));
            Assert.That(Ids(max), Is.EqualTo(ids.Skip(1)));
            Assert.That(Ids(huge), Is.EqualTo(ids.Skip(1)));
        });
    }

    [TestCase("0")]
    [TestCase("-3")]
    public async Task HistoryLimitBelowOneIsBadRequest(string limit)
    {
        var sent = await _alice.SendAsync("bob", "hi");
        AssertProblem(await GetRawAsync(_alice, $"/api/conversations/{sent.Long("conversation_id")}/messages?limit={limit}"), 400, "bad_request");
    }

    [Test]
    public async Task HistoryIsReadIsTrueOnlyUpToTheReceiversReadCursor()
    {
        var sent = new List<JsonObject>();
        for (var i = 0; i < 4; i++) sent.Add(await _alice.SendAsync("bob", $"a{i}"));
        sent.Add(await _bob.SendAsync("alice", "b0"));
        var id = sent[0].Long("conversation_id");

        // bob reads up to the second message; alice has read nothing.
        await MarkReadAsync(_bob, id, sent[1].Long("message_id"));
        var expected = new[] { true, true, false, false, false };
        Assert.That((await HistoryAsync(_alice, id)).Select(m => m.Bool("is_read")), Is.EqualTo(expected), "alice's view");
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.EqualTo(expected), "bob's view");

        // alice reads everything: only bob's message changes (alice's cursor does not mark her own messages read for bob).
        await MarkReadAsync(_alice, id);
        expected = [true, true, false, false, true];
        Assert.That((await HistoryAsync(_alice, id)).Select(m => m.Bool("is_read")), Is.EqualTo(expected), "alice's view");
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.EqualTo(expected), "bob's view");
    }
}
