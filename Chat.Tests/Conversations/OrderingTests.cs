using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary>On one socket the frames of a conversation arrive in ascending <c>message_id</c> order, even under concurrent sends.</summary>
[BothStores]
public sealed class OrderingTests
{
    private const int PerSocket = 30;

    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(Transport.TestHost);

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    [Test]
    public async Task EverySocketSeesConcurrentSendsInAscendingIdOrderExactlyOnce()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var sockets = new List<(ChatSocket Socket, string Partner, string Name)>();
        try
        {
            foreach (var (user, partner) in new[] { (alice, "bob"), (alice, "bob"), (bob, "alice"), (bob, "alice") })
                sockets.Add((await OpenAsync(user), partner, $"{user.Username}#{sockets.Count}"));

            // Every socket fires its sends without waiting for any answer, all four at once.
            await Task.WhenAll(sockets.Select((s, i) => Task.Run(() =>
                FireAsync(s.Socket, Enumerable.Range(0, PerSocket).Select(n => SendFrame(s.Partner, $"{s.Name} {n}", $"s{i}-{n}"))))));

            const int total = PerSocket * 4;
            var received = await Task.WhenAll(sockets.Select(s => CollectAsync(s.Socket,
                fs => OfType(fs, "chat_message", "message_sent").Count == total && OfType(fs, "ack").Count == PerSocket,
                TimeSpan.FromSeconds(60))));

            var acked = received.SelectMany(fs => OfType(fs, "ack")).Select(a => a.Long("message_id")).ToList();
            Assert.That(received.SelectMany(fs => OfType(fs, "error")), Is.Empty);
            Assert.That(acked.Distinct().Count(), Is.EqualTo(total), "every send stored once");
            var conversationId = OfType(received[0], "ack")[0].Long("conversation_id");

            for (var i = 0; i < sockets.Count; i++)
            {
                var frames = OfType(received[i], "chat_message", "message_sent");
                Assert.That(frames.Select(f => f.Long("conversation_id")), Is.All.EqualTo(conversationId));
                var ids = Ids(frames);
                Assert.That(ids, Is.Ordered.Ascending.And.Unique, $"{sockets[i].Name}: ids out of order or repeated");
                Assert.That(ids, Is.EquivalentTo(acked), $"{sockets[i].Name}: every message exactly once");
                // Own messages arrive as message_sent, the partner's as chat_message.
                var user = sockets[i].Name.Split('#')[0];
                Assert.That(frames.All(f => f.Type() == (f.Str("sender") == user ? "message_sent" : "chat_message")), Is.True, sockets[i].Name);
            }

            // The history holds the same messages in the same order.
            var history = await HistoryAsync(alice, conversationId, "?limit=200");
            Assert.That(Ids(history), Is.EqualTo(acked.Order()));
        }
        finally
        {
            foreach (var s in sockets) await s.Socket.DisposeAsync();
        }
    }
}
