using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Conversations;

/// <summary>
/// Contract, "Delivery guarantees": the per-conversation order holds while a <c>sync</c> replay and live frames share one
/// socket. From a <c>sync</c> until a <c>sync_complete</c> without more, live frames wait behind the replay.
/// </summary>
[BothStores]
[TestFixture]
[NonParallelizable]
public sealed class SyncOrderTests : ServerPerTest
{
    private static byte[] Frame(Dictionary<string, object> fields) => JsonSerializer.SerializeToUtf8Bytes(fields);

    private static byte[] Send(string receiver, int n) =>
        Frame(new() { ["type"] = "send_message", ["receiver"] = receiver, ["message"] = $"message {n}", ["client_msg_id"] = $"m{n}" });

    [Test]
    public async Task ASocketReplaying1500MessagesWhileThePartnerSendsLiveGetsTheConversationInAscendingOrderExactlyOnce()
    {
        const int backlog = 1500, live = 300;
        var app = await StartServerAsync(Transport.Kestrel);
        var alice = await app.RegisterAsync("alice");
        var bob = await app.RegisterAsync("bob");

        var acks = new ConcurrentDictionary<string, long>();
        using var aliceSocket = await LightSocket.ConnectAsync(app, alice.Token, f => { if (f.Type == "ack") acks[f.ClientMsgId!] = f.MessageId; });
        await aliceSocket.ExpectConnectedAsync();
        for (var n = 0; n < backlog; n++) await aliceSocket.Socket.SendAsync(Send("bob", n), WebSocketMessageType.Text, true, CancellationToken.None);
        await Deadline.WaitUntilAsync(() => acks.Count == backlog, TimeSpan.FromSeconds(60), $"the backlog's acks ({acks.Count} of {backlog})");

        using var bobSocket = await LightSocket.ConnectAsync(app, bob.Token, _ => { });
        await bobSocket.ExpectConnectedAsync();
        await bobSocket.Socket.SendAsync(Frame(new() { ["type"] = "sync", ["after_message_id"] = 0, ["limit"] = 1000 }), WebSocketMessageType.Text, true, CancellationToken.None);

        // The partner sends live into the conversation while the replay runs.
        var liveSends = Task.Run(async () =>
        {
            for (var n = backlog; n < backlog + live; n++)
                await aliceSocket.Socket.SendAsync(Send("bob", n), WebSocketMessageType.Text, true, CancellationToken.None);
        });

        var received = new List<long>();
        var pages = 0;
        var caughtUp = false;
        while (!caughtUp || received.Count < backlog + live)
        {
            var frame = await bobSocket.NextAsync(TimeSpan.FromSeconds(30));
            if (frame.Type == "chat_message") received.Add(frame.MessageId);
            else if (frame.Type == "sync_complete")
            {
                pages++;
                if (frame.HasMore)
                    await bobSocket.Socket.SendAsync(Frame(new() { ["type"] = "sync", ["after_message_id"] = frame.LastMessageId, ["limit"] = 1000 }),
                        WebSocketMessageType.Text, true, CancellationToken.None);
                else caughtUp = true;
            }
            Assert.That(received.Count, Is.LessThanOrEqualTo(backlog + live), "more chat_message frames than messages: a duplicate");
        }
        await liveSends;
        await Deadline.WaitUntilAsync(() => acks.Count == backlog + live, TimeSpan.FromSeconds(30), "every live ack");

        TestContext.Out.WriteLine($"sync order: {backlog} replayed in {pages} pages while {live} arrived live; {received.Count} chat_message frames");
        Assert.Multiple(() =>
        {
            Assert.That(received, Is.Ordered.Ascending, "the conversation's frames on this socket are in ascending message_id order");
            Assert.That(received, Is.Unique, "each message once");
            Assert.That(received, Is.EquivalentTo(acks.Values), "every acknowledged message, replayed or live");
        });
    }
}
