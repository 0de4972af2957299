using Chat.Tests.Infrastructure;
using static Chat.Tests.Conversations.ConversationKit;

namespace Chat.Tests.Conversations;

/// <summary>Per-user send rate limit, over WebSocket and HTTP together; a refused send stores nothing.</summary>
[BothStores]
public sealed class RateLimitTests
{
    private ChatApp _app = null!;

    private static Dictionary<string, string?> Limit(int perSecond, int burst) => new()
    {
        ["Chat:RateLimit:MessagesPerSecond"] = perSecond.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Chat:RateLimit:Burst"] = burst.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    [TearDown]
    public async Task TearDown()
    {
        if (_app is not null) await _app.DisposeAsync();
    }

    /// <summary>Sends the frames and collects one answer (ack or error) per frame.</summary>
    private static async Task<(List<System.Text.Json.Nodes.JsonObject> Acks, List<System.Text.Json.Nodes.JsonObject> Errors)> BurstAsync(ChatSocket socket, string receiver, string prefix, int count)
    {
        await FireAsync(socket, Enumerable.Range(0, count).Select(i => SendFrame(receiver, $"{prefix}{i}", $"{prefix}{i}")));
        var frames = await CollectAsync(socket, fs => OfType(fs, "ack", "error").Count == count);
        return (OfType(frames, "ack"), OfType(frames, "error"));
    }

    [Test]
    public async Task WebSocketBurstOverTheLimitIsRateLimitedAndOnlyAcknowledgedMessagesAreStored()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost, Limit(5, 5));
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        await using var socket = await OpenAsync(alice);

        var (acks, errors) = await BurstAsync(socket, "bob", "r", 20);

        Assert.That(acks.Count + errors.Count, Is.EqualTo(20));
        Assert.That(errors, Is.Not.Empty, "a burst of 20 over a budget of 5 must be refused in part");
        Assert.That(acks, Is.Not.Empty);
        foreach (var error in errors)
        {
            FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
            Assert.That(error.Str("code"), Is.EqualTo("rate_limited"));
        }
        // Every frame is answered once, by its client_msg_id.
        var answered = acks.Concat(errors).Select(f => f.Str("client_msg_id")).ToList();
        Assert.That(answered, Is.EquivalentTo(Enumerable.Range(0, 20).Select(i => $"r{i}")));

        var history = await HistoryAsync(bob, acks[0].Long("conversation_id"));
        Assert.That(Ids(history), Is.EquivalentTo(acks.Select(a => a.Long("message_id"))), "stored = acknowledged");
        Assert.That(history.Select(m => m.Str("message")), Is.EquivalentTo(acks.Select(a => a.Str("client_msg_id"))));
    }

    [Test]
    public async Task HttpBurstOverTheLimitGets429WithRetryAfter()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost, Limit(5, 5));
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => SendRawAsync(alice, "bob", $"h{i}")));
        var created = answers.Where(a => a.Status == 201).ToList();
        var limited = answers.Where(a => a.Status == 429).ToList();

        Assert.That(created.Count + limited.Count, Is.EqualTo(20), string.Join(", ", answers.Select(a => a.Status)));
        Assert.That(limited, Is.Not.Empty);
        Assert.That(created, Is.Not.Empty);
        foreach (var answer in limited)
        {
            AssertProblem(answer, 429, "rate_limited");
            Assert.That(answer.Headers.RetryAfter?.Delta, Is.Not.Null, "Retry-After in seconds");
            Assert.That(answer.Headers.RetryAfter!.Delta!.Value, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(1)));
        }

        var history = await HistoryAsync(bob, created[0].Json!.Long("conversation_id"));
        Assert.That(Ids(history), Is.EquivalentTo(created.Select(a => a.Json!.Long("message_id"))), "stored = created");
    }

    // With one token per second, one refill at most can land between using up the budget on one transport and
    // the two sends on the other; a separate budget per transport would accept both.
    [Test]
    public async Task HttpSendsUseUpTheWebSocketBudget()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost, Limit(1, 5));
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        await using var socket = await OpenAsync(alice);

        var limited = false;
        for (var i = 0; i < 30 && !limited; i++)
            limited = (await SendRawAsync(alice, "bob", $"h{i}")).Status == 429;
        Assert.That(limited, Is.True, "the HTTP budget ran out");

        var (acks, errors) = await BurstAsync(socket, "bob", "w", 2);
        Assert.That(errors.Select(e => e.Str("code")), Has.Some.EqualTo("rate_limited"));
        Assert.That(acks, Has.Count.LessThanOrEqualTo(1));
        var conversationId = (await ConversationsAsync(bob)).Single().Long("conversation_id");
        Assert.That((await HistoryAsync(bob, conversationId, "?limit=200")).Count(m => m.Str("message").StartsWith('w')), Is.EqualTo(acks.Count));
    }

    [Test]
    public async Task WebSocketSendsUseUpTheHttpBudget()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost, Limit(1, 5));
        var alice = await _app.RegisterAsync("alice");
        await _app.RegisterAsync("bob");
        await using var socket = await OpenAsync(alice);

        var (_, errors) = await BurstAsync(socket, "bob", "w", 10);
        Assert.That(errors, Is.Not.Empty, "the WebSocket budget ran out");

        var answers = new[] { await SendRawAsync(alice, "bob", "h0"), await SendRawAsync(alice, "bob", "h1") };
        Assert.That(answers.Select(a => a.Status), Has.Some.EqualTo(429));
        foreach (var answer in answers.Where(a => a.Status == 429)) AssertProblem(answer, 429, "rate_limited");
    }
}
