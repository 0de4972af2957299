using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using static Chat.Tests.Realtime.RealtimeTestHelpers;

namespace Chat.Tests.Realtime;

/// <summary>Section 3 delivery guarantee: on one socket, the frames of one conversation arrive in ascending message_id order.</summary>
[BothStores(Transport.TestHost)]
[BothStores(Transport.Kestrel)]
public sealed class FrameOrderTests(Transport transport)
{
    private const int Count = 50;

    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(transport);

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    /// <summary>Reads frames until <paramref name="done"/> says enough arrived; returns them all in arrival order.</summary>
    private static async Task<List<JsonObject>> CollectAsync(ChatSocket socket, Func<List<JsonObject>, bool> done)
    {
        var frames = new List<JsonObject>();
        while (!done(frames)) frames.Add(await socket.NextAsync(TimeSpan.FromSeconds(20)));
        return frames;
    }

    [Test]
    public async Task BackToBackSendsArriveInAscendingMessageIdOrderOnEverySocket()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        await using var aliceSocket = await alice.ConnectReadyAsync();
        await using var bobSocket = await bob.ConnectReadyAsync();

        // Fire all 50 without waiting for any answer.
        var sends = Enumerable.Range(0, Count)
            .Select(i => SendMessageFrame("bob", $"m{i}", $"c{i}").ToJsonString())
            .ToList();
        foreach (var text in sends) await aliceSocket.SendTextAsync(text);

        var sender = await CollectAsync(aliceSocket, f => f.Count(x => x.Type() == "ack") == Count && f.Count(x => x.Type() == "message_sent") == Count);
        var receiver = await CollectAsync(bobSocket, f => f.Count(x => x.Type() == "chat_message") == Count);

        Assert.That(sender.Where(f => f.Type() == "error"), Is.Empty, "no send was refused");

        var chatIds = receiver.Where(f => f.Type() == "chat_message").Select(f => f.Long("message_id")).ToList();
        var sentIds = sender.Where(f => f.Type() == "message_sent").Select(f => f.Long("message_id")).ToList();
        var ackIds = sender.Where(f => f.Type() == "ack").Select(f => f.Long("message_id")).ToList();
        // The sender's frames of this conversation, message_sent and ack interleaved as they arrived.
        var senderIds = sender.Where(f => f.Type() is "ack" or "message_sent").Select(f => f.Long("message_id")).ToList();

        Assert.Multiple(() =>
        {
            Assert.That(chatIds, Is.Ordered.Ascending.And.Unique, "receiver's chat_message order");
            Assert.That(sentIds, Is.Ordered.Ascending.And.Unique, "sender's message_sent order");
            Assert.That(ackIds, Is.Ordered.Ascending.And.Unique, "sender's ack order");
            Assert.That(senderIds, Is.Ordered.Ascending, "no ack or message_sent of a smaller id after one of a larger id");
            Assert.That(sentIds, Is.EqualTo(chatIds), "both sockets saw the same 50 messages");
            Assert.That(ackIds, Is.EqualTo(chatIds), "every message was acknowledged");
        });

        // Each ack names its own frame's message; every client_msg_id was answered exactly once.
        var acks = sender.Where(f => f.Type() == "ack").ToList();
        Assert.That(acks.Select(a => a.Str("client_msg_id")), Is.EquivalentTo(Enumerable.Range(0, Count).Select(i => $"c{i}")));
        var textById = receiver.Where(f => f.Type() == "chat_message").ToDictionary(f => f.Long("message_id"), f => f.Str("message"));
        foreach (var ack in acks)
            Assert.That(textById[ack.Long("message_id")], Is.EqualTo("m" + ack.Str("client_msg_id")[1..]), ack.ToJsonString());

        // Exactly the first message opened the conversation.
        var chats = receiver.Where(f => f.Type() == "chat_message").ToList();
        Assert.That(chats.Count(c => c.Bool("is_new_conversation")), Is.EqualTo(1));
        Assert.That(chats[0].Bool("is_new_conversation"), Is.True);
    }
}
