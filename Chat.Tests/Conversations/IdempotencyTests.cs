using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary><c>client_msg_id</c> makes a send idempotent per sender, over HTTP, WebSocket and a restart.</summary>
public sealed class IdempotencyTests : TwoUserTests
{
    private static int Count(ChatSocket socket, string type)
    {
        lock (socket.History) return socket.History.Count(f => f.Type() == type);
    }

    [TestCase("retry-1", 1, TestName = "RepeatedHttpSendWithSameClientMsgIdReturnsTheOriginalMessage")]
    [TestCase(TextSamples.Emoji, 64, TestName = "RepeatedHttpSendWithSame64EmojiClientMsgIdReturnsTheOriginalMessage")]
    public async Task RepeatedHttpSendWithSameClientMsgIdReturnsTheOriginalMessage(string unit, int count)
    {
        var clientMsgId = TextSamples.Repeat(unit, count);
        await using var bobSocket = await OpenAsync(_bob);
        var first = await _alice.SendAsync("bob", "once", clientMsgId);
        await bobSocket.WaitForAsync("chat_message");
        var second = await _alice.SendAsync("bob", "once", clientMsgId);

        Assert.Multiple(() =>
        {
            Assert.That(second.Long("message_id"), Is.EqualTo(first.Long("message_id")));
            Assert.That(second.Long("conversation_id"), Is.EqualTo(first.Long("conversation_id")));
            Assert.That(second.Long("timestamp"), Is.EqualTo(first.Long("timestamp")));
        });
        Assert.That(Ids(await HistoryAsync(_alice, first.Long("conversation_id"))), Is.EqualTo(new[] { first.Long("message_id") }));
        await bobSocket.DrainAsync();
        Assert.That(Count(bobSocket, "chat_message"), Is.EqualTo(1));
        Assert.That((await ConversationAsync(_bob, first.Long("conversation_id"))).Long("unread_count"), Is.EqualTo(1));
    }

    [TestCase("retry-1", 1, TestName = "RepeatedWebSocketSendWithSameClientMsgIdAcksTheOriginalWithoutNewFrames")]
    [TestCase(TextSamples.Emoji, 64, TestName = "RepeatedWebSocketSendWithSame64EmojiClientMsgIdAcksTheOriginalWithoutNewFrames")]
    public async Task RepeatedWebSocketSendWithSameClientMsgIdAcksTheOriginalWithoutNewFrames(string unit, int count)
    {
        var clientMsgId = TextSamples.Repeat(unit, count);
        await using var alice1 = await OpenAsync(_alice);
        await using var alice2 = await OpenAsync(_alice);
        await using var bobSocket = await OpenAsync(_bob);

        await alice1.SendAsync(SendFrame("bob", "once", clientMsgId));
        var sent = await ExpectSkippingPresenceAsync(alice1, "message_sent");
        var firstAck = await ExpectSkippingPresenceAsync(alice1, "ack");
        await bobSocket.WaitForAsync("chat_message");
        await alice2.WaitForAsync("message_sent");

        await alice1.SendAsync(SendFrame("bob", "once", clientMsgId));
        // The repeat is answered by the ack alone: no message_sent before it.
        var secondAck = await ExpectSkippingPresenceAsync(alice1, "ack");
        FrameAssert.HasExactKeys(secondAck, FrameAssert.AckKeys);
        Assert.Multiple(() =>
        {
            Assert.That(secondAck.Str("client_msg_id"), Is.EqualTo(clientMsgId));
            Assert.That(secondAck.Long("message_id"), Is.EqualTo(sent.Long("message_id")));
            Assert.That(secondAck.Long("message_id"), Is.EqualTo(firstAck.Long("message_id")));
            Assert.That(secondAck.Long("conversation_id"), Is.EqualTo(firstAck.Long("conversation_id")));
            Assert.That(secondAck.Long("timestamp"), Is.EqualTo(firstAck.Long("timestamp")));
        });

        foreach (var socket in new[] { alice1, alice2, bobSocket }) await socket.DrainAsync();
        Assert.Multiple(() =>
        {
            Assert.That(Count(alice1, "message_sent"), Is.EqualTo(1));
            Assert.That(Count(alice2, "message_sent"), Is.EqualTo(1));
            Assert.That(Count(bobSocket, "chat_message"), Is.EqualTo(1));
            Assert.That(Count(bobSocket, "conversation_refresh"), Is.EqualTo(1));
        });
        Assert.That(await HistoryAsync(_bob, firstAck.Long("conversation_id")), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task HttpSendRetriedOverWebSocketReturnsTheOriginalMessage()
    {
        await using var bobSocket = await OpenAsync(_bob);
        var first = await _alice.SendAsync("bob", "once", "retry-1");
        await bobSocket.WaitForAsync("chat_message");

        await using var aliceSocket = await OpenAsync(_alice);
        await aliceSocket.SendAsync(SendFrame("bob", "once", "retry-1"));
        var ack = await ExpectSkippingPresenceAsync(aliceSocket, "ack");
        Assert.That(ack.Long("message_id"), Is.EqualTo(first.Long("message_id")));
        Assert.That(ack.Long("conversation_id"), Is.EqualTo(first.Long("conversation_id")));

        Assert.That(OfType(await aliceSocket.DrainAsync(), "message_sent"), Is.Empty);
        Assert.That(OfType(await bobSocket.DrainAsync(), "chat_message"), Is.Empty);
        Assert.That(await HistoryAsync(_bob, first.Long("conversation_id")), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task WebSocketSendRetriedOverHttpReturnsTheOriginalMessage()
    {
        await using var bobSocket = await OpenAsync(_bob);
        await using var aliceSocket = await OpenAsync(_alice);
        await aliceSocket.SendAsync(SendFrame("bob", "once", "retry-1"));
        var ack = await aliceSocket.WaitForAsync("ack");
        await bobSocket.WaitForAsync("chat_message");

        var retry = await _alice.SendAsync("bob", "once", "retry-1");
        Assert.That(retry.Long("message_id"), Is.EqualTo(ack.Long("message_id")));
        Assert.That(OfType(await bobSocket.DrainAsync(), "chat_message"), Is.Empty);
        Assert.That(await HistoryAsync(_bob, ack.Long("conversation_id")), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task RetryAfterServerRestartReturnsTheOriginalMessage()
    {
        var first = await _alice.SendAsync("bob", "once", "retry-1");
        var restarted = await _app.RestartAsync();
        try
        {
            // Tokens and messages survive the restart; the users now talk to the new server.
            var alice = _alice with { App = restarted };
            var bob = _bob with { App = restarted };
            await using var bobSocket = await bob.ConnectAsync();
            var connected = await bobSocket.ExpectAsync("connected");
            Assert.That(connected.Long("last_message_id"), Is.EqualTo(first.Long("message_id")));

            var overHttp = await alice.SendAsync("bob", "once", "retry-1");
            Assert.That(overHttp.Long("message_id"), Is.EqualTo(first.Long("message_id")));

            await using var aliceSocket = await alice.ConnectAsync();
            await aliceSocket.ExpectAsync("connected");
            await aliceSocket.SendAsync(SendFrame("bob", "once", "retry-1"));
            var ack = await ExpectSkippingPresenceAsync(aliceSocket, "ack");
            Assert.That(ack.Long("message_id"), Is.EqualTo(first.Long("message_id")));

            Assert.That(OfType(await bobSocket.DrainAsync(), "chat_message"), Is.Empty);
            Assert.That(OfType(await aliceSocket.DrainAsync(), "message_sent"), Is.Empty);
            Assert.That(Ids(await HistoryAsync(alice, first.Long("conversation_id"))), Is.EqualTo(new[] { first.Long("message_id") }));
        }
        finally
        {
            await restarted.DisposeAsync();
        }
    }

    [Test]
    public async Task ClientMsgIdIsScopedToTheSender()
    {
        var fromAlice = await _alice.SendAsync("bob", "from alice", "same-id");
        var fromBob = await _bob.SendAsync("alice", "from bob", "same-id");
        Assert.That(fromBob.Long("message_id"), Is.Not.EqualTo(fromAlice.Long("message_id")));
        var history = await HistoryAsync(_alice, fromAlice.Long("conversation_id"));
        Assert.That(history.Select(m => m.Str("message")), Is.EqualTo(new[] { "from alice", "from bob" }));
    }

    [Test]
    public async Task SendsWithDifferentClientMsgIdsAreDistinctMessages()
    {
        var one = await _alice.SendAsync("bob", "same text", "id-1");
        var two = await _alice.SendAsync("bob", "same text", "id-2");
        Assert.That(two.Long("message_id"), Is.Not.EqualTo(one.Long("message_id")));
        Assert.That(await HistoryAsync(_alice, one.Long("conversation_id")), Has.Count.EqualTo(2));
    }
}
