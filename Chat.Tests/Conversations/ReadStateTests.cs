using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary><c>POST /api/conversations/{id}/read</c>, the <c>mark_read</c> frame and <c>messages_read</c>.</summary>
public sealed class ReadStateTests : TwoUserTests
{
    private static readonly string[] ReadResponseKeys = ["conversation_id", "up_to_message_id", "unread_count"];


    /// <summary>alice sends <paramref name="count"/> messages to bob; returns their ids and the conversation id.</summary>
    private async Task<(List<long> Ids, long ConversationId)> AliceSendsAsync(int count)
    {
        var ids = new List<long>();
        long conversationId = 0;
        for (var i = 0; i < count; i++)
        {
            var sent = await _alice.SendAsync("bob", $"m{i}");
            ids.Add(sent.Long("message_id"));
            conversationId = sent.Long("conversation_id");
        }
        return (ids, conversationId);
    }

    private static void AssertMessagesRead(JsonObject frame, long conversationId, string reader, long upTo)
    {
        FrameAssert.HasExactKeys(frame, FrameAssert.MessagesReadKeys);
        Assert.Multiple(() =>
        {
            Assert.That(frame.Long("conversation_id"), Is.EqualTo(conversationId));
            Assert.That(frame.Str("reader"), Is.EqualTo(reader));
            Assert.That(frame.Long("up_to_message_id"), Is.EqualTo(upTo));
        });
    }

    [Test]
    public async Task MarkReadOverHttpWithoutUpToReadsEverythingSoFar()
    {
        var (ids, id) = await AliceSendsAsync(3);
        var result = await MarkReadAsync(_bob, id);
        FrameAssert.HasExactKeys(result, ReadResponseKeys);
        Assert.Multiple(() =>
        {
            Assert.That(result.Long("conversation_id"), Is.EqualTo(id));
            Assert.That(result.Long("up_to_message_id"), Is.EqualTo(ids[^1]));
            Assert.That(result.Long("unread_count"), Is.Zero);
        });
        Assert.That((await ConversationAsync(_bob, id)).Long("unread_count"), Is.Zero);
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.All.True);
    }

    [Test]
    public async Task MarkReadOverHttpWithNoBodyReadsEverythingSoFar()
    {
        var (ids, id) = await AliceSendsAsync(2);
        var answer = await PostRawAsync(_bob, $"/api/conversations/{id}/read", null);
        Assert.That(answer.Status, Is.EqualTo(200), answer.Json?.ToJsonString());
        FrameAssert.HasExactKeys(answer.Json!, ReadResponseKeys);
        Assert.That(answer.Json!.Long("up_to_message_id"), Is.EqualTo(ids[^1]));
        Assert.That(answer.Json!.Long("unread_count"), Is.Zero);
    }

    [Test]
    public async Task MarkReadUpToAnEarlierMessageLeavesLaterMessagesUnread()
    {
        var (ids, id) = await AliceSendsAsync(4);
        var result = await MarkReadAsync(_bob, id, ids[1]);
        FrameAssert.HasExactKeys(result, ReadResponseKeys);
        Assert.Multiple(() =>
        {
            Assert.That(result.Long("conversation_id"), Is.EqualTo(id));
            Assert.That(result.Long("up_to_message_id"), Is.EqualTo(ids[1]));
            Assert.That(result.Long("unread_count"), Is.EqualTo(2));
        });
        Assert.That((await ConversationAsync(_bob, id)).Long("unread_count"), Is.EqualTo(2));
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.EqualTo(new[] { true, true, false, false }));
    }

    [Test]
    public async Task ReadCursorNeverMovesBackwards()
    {
        var (ids, id) = await AliceSendsAsync(4);
        await MarkReadAsync(_bob, id, ids[2]);

        // Over HTTP: an older id keeps the larger cursor and the unread count.
        var back = await MarkReadAsync(_bob, id, ids[0]);
        Assert.Multiple(() =>
        {
            Assert.That(back.Long("up_to_message_id"), Is.EqualTo(ids[2]));
            Assert.That(back.Long("unread_count"), Is.EqualTo(1));
        });
        Assert.That((await ConversationAsync(_bob, id)).Long("unread_count"), Is.EqualTo(1));
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.EqualTo(new[] { true, true, true, false }));

        // Over WebSocket too: the messages_read it causes reports the kept cursor.
        await using var socket = await OpenAsync(_bob);
        await socket.SendAsync(MarkReadFrame(id, ids[1]));
        AssertMessagesRead(await socket.WaitForAsync("messages_read"), id, "bob", ids[2]);
        Assert.That((await ConversationAsync(_bob, id)).Long("unread_count"), Is.EqualTo(1));
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.EqualTo(new[] { true, true, true, false }));
    }

    [Test]
    public async Task MessagesReadFromHttpReachesEverySocketOfBothParticipants()
    {
        var (ids, id) = await AliceSendsAsync(2);
        await using var alice1 = await OpenAsync(_alice);
        await using var alice2 = await OpenAsync(_alice);
        await using var bob1 = await OpenAsync(_bob);
        await using var bob2 = await OpenAsync(_bob);

        await MarkReadAsync(_bob, id, ids[0]);
        foreach (var socket in new[] { alice1, alice2, bob1, bob2 })
            AssertMessagesRead(await socket.WaitForAsync("messages_read"), id, "bob", ids[0]);
    }

    [Test]
    public async Task MarkReadFrameMarksReadAndReachesEverySocketOfBothParticipants()
    {
        var (ids, id) = await AliceSendsAsync(3);
        await using var alice1 = await OpenAsync(_alice);
        await using var bob1 = await OpenAsync(_bob);
        await using var bob2 = await OpenAsync(_bob);

        // Partial read from one of bob's devices.
        await bob1.SendAsync(MarkReadFrame(id, ids[1]));
        foreach (var socket in new[] { bob1, bob2, alice1 })
            AssertMessagesRead(await socket.WaitForAsync("messages_read"), id, "bob", ids[1]);
        Assert.That((await ConversationAsync(_bob, id)).Long("unread_count"), Is.EqualTo(1));
        Assert.That((await HistoryAsync(_bob, id)).Select(m => m.Bool("is_read")), Is.EqualTo(new[] { true, true, false }));

        // Without up_to_message_id, from the other device: everything so far.
        await bob2.SendAsync(MarkReadFrame(id));
        foreach (var socket in new[] { bob1, bob2, alice1 })
            AssertMessagesRead(await socket.WaitForAsync("messages_read"), id, "bob", ids[2]);
        Assert.That((await ConversationAsync(_bob, id)).Long("unread_count"), Is.Zero);
    }

    [Test]
    public async Task MarkReadDoesNotNotifyUsersOutsideTheConversation()
    {
        var (ids, id) = await AliceSendsAsync(1);
        var carol = await _app.RegisterAsync("carol");
        await using var carolSocket = await OpenAsync(carol);
        await using var aliceSocket = await OpenAsync(_alice);
        await MarkReadAsync(_bob, id, ids[0]);
        await aliceSocket.WaitForAsync("messages_read");
        Assert.That(OfType(await carolSocket.DrainAsync(), "messages_read"), Is.Empty);
    }
}
