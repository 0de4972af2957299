using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Chat.Server.Realtime;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Resilience;

/// <summary>
/// What a socket's queue holds is bounded in bytes, and "too slow" means the client did not take its bytes over time:
/// frames are raw UTF-8 (a 4,000-emoji message is ~16 KB, not 48 KB); a socket that stops reading large non-ASCII
/// messages is closed once the server-wide budget is spent, however few frames that is, and recovers with <c>sync</c>; a socket that reads
/// as fast as it can is never closed, however large the burst a group commit queues for it at once.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class OutboundBytesTests : ServerPerTest
{
    private static byte[] SendFrame(string receiver, string message, int n) => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
    {
        ["type"] = "send_message", ["receiver"] = receiver, ["message"] = message, ["client_msg_id"] = $"c{n}",
    });

    [Test]
    public async Task FramesCarryNonAsciiTextAsRawUtf8AndEscapeOnlyWhatJsonRequires()
    {
        var app = await StartServerAsync(Transport.Kestrel);
        var alice = await app.RegisterAsync("alice", fullName: "Ålice Σωκράτης");
        var bob = await app.RegisterAsync("bob");
        await using var raw = await RawWebSocket.UpgradeAsync(app.BaseAddress, bob.Token);
        Assert.That((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>(), Is.EqualTo("connected"));

        var message = string.Concat(Enumerable.Repeat("😀", 3980)) + " é \"q\" \\ <&> \n\t";
        await alice.SendAsync("bob", message);
        var (opcode, payload) = await raw.ReadFrameAsync();
        Assert.That(opcode, Is.EqualTo(0x1));
        var text = Encoding.UTF8.GetString(payload);
        var frame = JsonNode.Parse(text)!.AsObject();
        Assert.Multiple(() =>
        {
            Assert.That(frame["type"]!.GetValue<string>(), Is.EqualTo("chat_message"));
            Assert.That(frame["message"]!.GetValue<string>(), Is.EqualTo(message), "the text survives the round trip");
            Assert.That(text, Does.Contain("😀😀 é").And.Contain("Ålice Σωκράτης").And.Contain("<&>"), "non-ASCII and HTML characters are written as they are");
            Assert.That(text.Replace("\\u0022", "").Replace("\\u005C", "").Replace("\\u000A", "").Replace("\\u0009", ""), Does.Not.Contain("\\u"),
                "nothing but the quote, the backslash and control characters is escaped");
            Assert.That(payload.Length, Is.LessThan(3980 * 4 + 600), $"a 3,980-emoji message is {payload.Length} bytes on the wire (escaped, it was ~48,000)");
        });
    }

    [Test]
    public async Task HttpBodiesCarryNonAsciiTextAsRawUtf8Too()
    {
        var app = await StartServerAsync(Transport.Kestrel);
        var alice = await app.RegisterAsync("alice", fullName: "Ålice 😀 <b>");
        using var client = alice.Client();
        var text = await client.GetStringAsync("/api/users/me");
        Assert.That(text, Does.Contain("\"full_name\":\"Ålice 😀 <b>\""), "written as it is, not as \\u escapes");
    }

    [Test]
    public async Task ASocketThatStopsReadingLargeNonAsciiMessagesIsClosedOnceTheServerWideBudgetIsSpentAndRecoversWithSync()
    {
        const long bound = 256 * 1024, budgetBytes = 1024 * 1024;
        var app = await StartServerAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Chat:SendQueueLimit"] = "100000", // never the frame bound: the bytes decide
            ["Chat:SendQueueBytes"] = bound.ToString(),
            ["Chat:MaxOutboundBytes"] = budgetBytes.ToString(),
            ["Chat:SlowConsumerTimeout"] = "01:00:00", // never the timeout: the budget decides
            ["Chat:CloseTimeout"] = "00:01:00",
        });
        var sender = await app.RegisterAsync("emoji_sender");
        var reader = await app.RegisterAsync("stalled_reader");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        var budget = app.Services.GetRequiredService<OutboundBudget>();
        var body = string.Concat(Enumerable.Repeat("😀", 4000));

        var acks = new ConcurrentDictionary<string, long>();
        var ackWindow = new SemaphoreSlim(16, 16);
        using var senderSocket = await LightSocket.ConnectAsync(app, sender.Token, frame =>
        {
            if (frame.Type != "ack") return;
            acks[frame.ClientMsgId!] = frame.MessageId;
            ackWindow.Release();
        });
        await senderSocket.ExpectConnectedAsync();
        using var stalledRaw = await LightSocket.ConnectRawAsync(app, reader.Token);
        await Deadline.WaitUntilAsync(() => registry.All().Any(c => c.Username == "stalled_reader"), TimeSpan.FromSeconds(5), "the stalled socket to register");
        var stalled = registry.All().Single(c => c.Username == "stalled_reader");

        long peakQueued = 0;
        var sent = 0;
        while (!stalled.IsClosing)
        {
            Assert.That(sent, Is.LessThan(4000), "a socket that never reads was never closed");
            Assert.That(await ackWindow.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "the sender got no ack for 30 s");
            await senderSocket.Socket.SendAsync(SendFrame("stalled_reader", body, sent++), WebSocketMessageType.Text, true, CancellationToken.None);
            peakQueued = Math.Max(peakQueued, stalled.QueuedBytes);
        }
        await Deadline.WaitUntilAsync(() => acks.Count == sent, TimeSpan.FromSeconds(30), $"every ack ({acks.Count} of {sent})");
        TestContext.Out.WriteLine($"stalled reader: closed after {sent} messages of 4,000 emoji; peak queue {peakQueued / 1024} KiB (bound {bound / 1024} KiB, server budget {budgetBytes / 1024} KiB)");
        Assert.Multiple(() =>
        {
            Assert.That(peakQueued, Is.GreaterThan(bound), "the stalled socket was past its own bound");
            Assert.That(peakQueued, Is.LessThanOrEqualTo(budgetBytes + 20_000), "never more than the server-wide budget (and the frame that passed it) queued");
            Assert.That(stalled.QueuedBytes, Is.Zero, "a socket closed as too slow holds nothing");
        });
        await Deadline.WaitUntilAsync(() => budget.TotalBytes == 0, TimeSpan.FromSeconds(10), $"the server-wide outbound bytes to fall back to 0 (now {budget.TotalBytes})");

        // The stalled client reads again: what was buffered in TCP, then the 1008 close.
        var slow = new LightSocket(stalledRaw, _ => { });
        await foreach (var _ in slow.Frames.Reader.ReadAllAsync().WithTimeout(TimeSpan.FromSeconds(60))) { }
        Assert.That(slow.CloseStatus, Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "a client too slow to read is closed with 1008");

        // It reconnects and catches up with sync.
        using var again = await LightSocket.ConnectAsync(app, reader.Token, _ => { });
        await again.ExpectConnectedAsync();
        await again.Socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["type"] = "sync", ["after_message_id"] = 0, ["limit"] = 1000 }),
            WebSocketMessageType.Text, true, CancellationToken.None);
        var synced = new List<long>();
        LightFrame next;
        while ((next = await again.NextAsync(TimeSpan.FromSeconds(30))).Type != "sync_complete")
            if (next.Type == "chat_message") synced.Add(next.MessageId);
        Assert.That(synced, Is.EquivalentTo(acks.Values), "after sync the stalled client has every message");
    }

    [Test]
    public async Task ASocketThatReadsAsFastAsItCanIsNeverClosedByABurstWhileItsStalledTwinIs()
    {
        const int messages = 700;
        var app = await StartServerAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Chat:SendQueueLimit"] = "128",
            ["Chat:CloseTimeout"] = "00:00:05",
        });
        var sender = await app.RegisterAsync("burst_sender");
        var reader = await app.RegisterAsync("two_devices");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        var body = new string('b', 3500);

        var acks = new ConcurrentDictionary<string, long>();
        using var senderSocket = await LightSocket.ConnectAsync(app, sender.Token, frame =>
        {
            if (frame.Type == "ack") acks[frame.ClientMsgId!] = frame.MessageId;
        });
        await senderSocket.ExpectConnectedAsync();
        var delivered = new ConcurrentDictionary<long, int>();
        using var fast = await LightSocket.ConnectAsync(app, reader.Token, frame =>
        {
            if (frame.Type == "chat_message") delivered.AddOrUpdate(frame.MessageId, 1, (_, n) => n + 1);
        });
        await fast.ExpectConnectedAsync();
        using var stalledRaw = await LightSocket.ConnectRawAsync(app, reader.Token);
        await Deadline.WaitUntilAsync(() => registry.All().Count(c => c.Username == "two_devices") == 2, TimeSpan.FromSeconds(5), "both sockets to register");
        var fastConnection = registry.All().First(c => c.Username == "two_devices");

        // Pipelined: every send goes out at once, so group commits queue whole batches for the reader.
        for (var n = 0; n < messages; n++)
            await senderSocket.Socket.SendAsync(SendFrame("two_devices", body, n), WebSocketMessageType.Text, true, CancellationToken.None);
        await Deadline.WaitUntilAsync(() => acks.Count == messages && delivered.Count == messages, TimeSpan.FromSeconds(60),
            $"every ack and delivery (acks {acks.Count}, delivered {delivered.Count} of {messages})");

        var fastClosed = registry.All().Count(c => c.Username == "two_devices" && !c.IsClosing) == 0 || fast.Completion.IsCompleted;
        Assert.Multiple(() =>
        {
            Assert.That(fastClosed, Is.False, $"the socket that reads as fast as it can is still open (close status {fast.CloseStatus})");
            Assert.That(delivered.Values, Has.All.EqualTo(1), "it got each message exactly once");
            Assert.That(delivered.Keys, Is.EquivalentTo(acks.Values), "it got every acknowledged message");
        });
        TestContext.Out.WriteLine($"burst: {messages} pipelined messages of 3,500 bytes; the fast reader got all; the stalled socket holds {registry.All().Where(c => c.Username == "two_devices").Max(c => c.QueuedBytes) / 1024} KiB");
        await fast.Socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["type"] = "ping" }), WebSocketMessageType.Text, true, CancellationToken.None);
        LightFrame pong;
        while ((pong = await fast.NextAsync(TimeSpan.FromSeconds(10))).Type != "pong") { }
        GC.KeepAlive(fastConnection);
    }
}
