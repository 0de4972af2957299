using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Chat.Server.Realtime;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Resilience;

/// <summary>
/// A socket that stops reading while thousands of frames are sent to it is closed with 1008 once its queue stays
/// past <c>Chat:SendQueueLimit</c> (or <c>Chat:SendQueueBytes</c>) for <c>Chat:SlowConsumerTimeout</c>; the sender and
/// the user's other socket get everything, server memory stays bounded, and the slow client recovers every message
/// with <c>sync</c>. The rules themselves (burst, time, hard bound, server-wide budget) are checked on a socket
/// that never reads, with a fake clock.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class SlowConsumerTests : ServerPerTest
{
    private const int Messages = 8000;
    private const int BodyLength = 4000;
    private const int Window = 16;
    private const long MemoryBoundBytes = 16L * 1024 * 1024;

    private static string Body(int n)
    {
        var head = $"slow-consumer message {n} ";
        return head + new string('p', BodyLength - head.Length);
    }

    private static byte[] SendFrame(string receiver, int n) => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string>
    {
        ["type"] = "send_message", ["receiver"] = receiver, ["message"] = Body(n), ["client_msg_id"] = $"c{n}",
    });

    [Test]
    public async Task ASocketThatStopsReadingIsClosedWith1008WhileTheSenderAndTheOtherSocketGetEverything()
    {
        // A long close timeout: the slow client gets its 1008 when it reads again, even after the whole stream.
        var app = await StartServerAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Chat:SendQueueLimit"] = "64",
            ["Chat:SlowConsumerTimeout"] = "00:00:01",
            ["Chat:CloseTimeout"] = "00:01:00",
        });
        var sender = await app.RegisterAsync("fast_sender");
        var reader = await app.RegisterAsync("slow_reader");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();

        // The sender, paced only by its own acks and by the normal socket's deliveries (a window of 16).
        var ackWindow = new SemaphoreSlim(Window, Window);
        var deliveryWindow = new SemaphoreSlim(Window, Window);
        var acks = new ConcurrentDictionary<string, long>();
        var ackCount = 0;
        var sentAt = new long[Messages];
        long maxAckLatencyTicks = 0;
        using var senderSocket = await LightSocket.ConnectAsync(app, sender.Token, frame =>
        {
            if (frame.Type != "ack") return;
            acks[frame.ClientMsgId!] = frame.MessageId;
            Interlocked.Increment(ref ackCount);
            var latency = Stopwatch.GetTimestamp() - sentAt[int.Parse(frame.ClientMsgId![1..])];
            if (latency > Interlocked.Read(ref maxAckLatencyTicks)) Interlocked.Exchange(ref maxAckLatencyTicks, latency);
            ackWindow.Release();
        });
        await senderSocket.ExpectConnectedAsync();

        // The slow socket: connected, then never read (so TCP backs up into the server's queue for it).
        using var slowRaw = await LightSocket.ConnectRawAsync(app, reader.Token);
        await Deadline.WaitUntilAsync(() => registry.All().Any(c => c.Username == "slow_reader"), TimeSpan.FromSeconds(5), "the slow socket to register");
        var slowConnection = registry.All().Single(c => c.Username == "slow_reader");

        // The same user's other device reads normally.
        var delivered = new ConcurrentDictionary<long, int>();
        using var normalSocket = await LightSocket.ConnectAsync(app, reader.Token, frame =>
        {
            if (frame.Type != "chat_message") return;
            delivered.AddOrUpdate(frame.MessageId, 1, (_, n) => n + 1);
            deliveryWindow.Release();
        });
        await normalSocket.ExpectConnectedAsync();

        var memoryBefore = GC.GetTotalMemory(forceFullCollection: true);
        var clock = Stopwatch.StartNew();
        var overflowAt = -1;
        var frameBytes = 0L;
        for (var n = 0; n < Messages; n++)
        {
            if (!await ackWindow.WaitAsync(TimeSpan.FromSeconds(30)))
                Assert.Fail($"The sender got no ack for 30 s after {n} sends ({ackCount} acks): the sender was held up.");
            if (!await deliveryWindow.WaitAsync(TimeSpan.FromSeconds(30)))
                Assert.Fail($"The reading socket got no chat_message for 30 s after {n} sends ({delivered.Count} delivered): it was held up.");
            var bytes = SendFrame("slow_reader", n);
            frameBytes += bytes.Length;
            sentAt[n] = Stopwatch.GetTimestamp();
            await senderSocket.Socket.SendAsync(bytes, WebSocketMessageType.Text, true, CancellationToken.None);
            if (overflowAt < 0 && slowConnection.IsClosing) overflowAt = n;
        }
        await Deadline.WaitUntilAsync(() => Volatile.Read(ref ackCount) == Messages && delivered.Count == Messages, TimeSpan.FromSeconds(60),
            $"every ack and delivery (acks {ackCount}, delivered {delivered.Count} of {Messages})");
        var elapsed = clock.Elapsed;
        // Past its bound and taking nothing, it is closed within the slow-consumer timeout (1 s) plus a sweep or two.
        await Deadline.WaitUntilAsync(() => slowConnection.IsClosing, TimeSpan.FromSeconds(10), "the stalled socket to be closed as too slow");
        var memoryAfter = GC.GetTotalMemory(forceFullCollection: true);
        var growth = memoryAfter - memoryBefore;

        TestContext.Out.WriteLine(
            $"slow consumer: {Messages} messages of {BodyLength} chars in {elapsed.TotalSeconds:F1}s ({Messages / elapsed.TotalSeconds:F0}/s), " +
            $"~{frameBytes / (1024 * 1024)} MiB aimed at the slow socket; it overflowed after send #{overflowAt}; max ack latency " +
            $"{Stopwatch.GetElapsedTime(0, maxAckLatencyTicks).TotalMilliseconds:F0} ms");
        TestContext.Out.WriteLine(
            $"slow consumer: managed heap {memoryBefore / (1024 * 1024)} MiB before, {memoryAfter / (1024 * 1024)} MiB after, " +
            $"growth {growth / (1024.0 * 1024):F1} MiB (bound {MemoryBoundBytes / (1024 * 1024)} MiB)");

        Assert.Multiple(() =>
        {
            Assert.That(slowConnection.IsClosing, Is.True, "the slow socket's queue overflowed, so the server must be closing it");
            Assert.That(slowConnection.QueuedBytes, Is.Zero, "a socket closed as too slow holds nothing queued");
            Assert.That(acks.Values, Is.Unique);
            Assert.That(acks, Has.Count.EqualTo(Messages), "the sender got every ack");
            Assert.That(delivered.Values, Has.All.EqualTo(1), "the reading socket got each message exactly once");
            Assert.That(delivered.Keys, Is.EquivalentTo(acks.Values), "the reading socket got every acknowledged message");
            Assert.That(registry.All().Count(c => c.Username == "slow_reader" && !c.IsClosing), Is.EqualTo(1), "the user's other socket is untouched");
            Assert.That(growth, Is.LessThan(MemoryBoundBytes), "server memory must stay bounded while a client does not read");
        });

        // The slow client reads again: what was buffered, then the 1008 close.
        var slow = new LightSocket(slowRaw, _ => { });
        var slowFrames = 0;
        await foreach (var frame in slow.Frames.Reader.ReadAllAsync().WithTimeout(TimeSpan.FromSeconds(60)))
            if (frame.Type == "chat_message") slowFrames++;
        Assert.That(slow.CloseStatus, Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "a client too slow to read is closed with 1008");
        Assert.That(slowFrames, Is.LessThan(Messages));
        await Deadline.WaitUntilAsync(() => !registry.All().Contains(slowConnection), TimeSpan.FromSeconds(10), "the slow socket to leave the registry");
        TestContext.Out.WriteLine($"slow consumer: the slow socket received {slowFrames} chat_message frames before its 1008");

        // It reconnects and catches up with sync from 0, page by page.
        using var again = await LightSocket.ConnectAsync(app, reader.Token, _ => { });
        var connected = await again.ExpectConnectedAsync();
        Assert.That(connected.LastMessageId, Is.EqualTo(acks.Values.Max()));
        var synced = new List<long>();
        long after = 0;
        var pages = 0;
        while (true)
        {
            await again.Socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object> { ["type"] = "sync", ["after_message_id"] = after, ["limit"] = 1000 }),
                WebSocketMessageType.Text, true, CancellationToken.None);
            pages++;
            LightFrame frame;
            while ((frame = await again.NextAsync(TimeSpan.FromSeconds(30))).Type != "sync_complete")
                if (frame.Type == "chat_message") synced.Add(frame.MessageId);
            after = frame.LastMessageId;
            if (!frame.HasMore) break;
            Assert.That(pages, Is.LessThan(100), "sync does not make progress");
        }
        TestContext.Out.WriteLine($"slow consumer: sync replayed {synced.Count} messages in {pages} pages");
        Assert.That(synced, Is.Unique, "sync replayed a message twice");
        Assert.That(synced, Is.Ordered);
        Assert.That(synced, Is.EquivalentTo(acks.Values), "after sync the slow client has every message");
    }

    [Test]
    public async Task ASlowSocketThatNeverReadsAgainIsDroppedAfterTheCloseTimeout()
    {
        var app = await StartServerAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Chat:SendQueueLimit"] = "64",
            ["Chat:SlowConsumerTimeout"] = "00:00:01",
            ["Chat:CloseTimeout"] = "00:00:02",
        });
        var sender = await app.RegisterAsync("fast_sender");
        var reader = await app.RegisterAsync("stalled_reader");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();

        var ackWindow = new SemaphoreSlim(Window, Window);
        using var senderSocket = await LightSocket.ConnectAsync(app, sender.Token, frame =>
        {
            if (frame.Type is "ack" or "error") ackWindow.Release();
        });
        await senderSocket.ExpectConnectedAsync();
        using var slowRaw = await LightSocket.ConnectRawAsync(app, reader.Token);
        await Deadline.WaitUntilAsync(() => registry.All().Any(c => c.Username == "stalled_reader"), TimeSpan.FromSeconds(5), "the slow socket to register");
        var slowConnection = registry.All().Single(c => c.Username == "stalled_reader");

        var sent = 0;
        while (!slowConnection.IsClosing)
        {
            Assert.That(sent, Is.LessThan(4 * Messages), "the socket that does not read never overflowed");
            Assert.That(await ackWindow.WaitAsync(TimeSpan.FromSeconds(30)), Is.True, "the sender got no ack for 30 s");
            await senderSocket.Socket.SendAsync(SendFrame("stalled_reader", sent++), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        var clock = Stopwatch.StartNew();
        // The client never reads again, so the close frame can never be delivered: the server must not wait for it forever.
        await Deadline.WaitUntilAsync(() => !registry.All().Contains(slowConnection), TimeSpan.FromSeconds(15),
            "the server to drop a closed slow socket whose peer never reads (close timeout 2 s)");
        TestContext.Out.WriteLine($"stalled reader: overflowed after {sent} sends; dropped {clock.Elapsed.TotalSeconds:F1}s later");
    }

    private static readonly OutboundFrame Message = new(Encoding.UTF8.GetBytes("{\"type\":\"chat_message\"}"));

    /// <summary>A connection over a socket that never takes a frame, with a fake clock; the first frame is taken by the writer (and hangs).</summary>
    private static async Task<(ChatConnection Connection, StuckSocket Socket, Task Run)> StuckConnectionAsync(
        Chat.Server.ChatOptions options, FakeTimeProvider clock, OutboundBudget? budget = null)
    {
        var socket = new StuckSocket();
        var connection = new ChatConnection(socket, 1, "stuck", 1, options, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, budget, clock);
        var run = connection.RunAsync(Task.FromResult<IReadOnlyList<OutboundFrame>>([]), (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        Assert.That(connection.Send(Message), Is.True);
        await Deadline.WaitUntilAsync(() => socket.SendsStarted == 1 && connection.QueuedFrames == 0, TimeSpan.FromSeconds(5), "the writer to take the first frame");
        return (connection, socket, run);
    }

    private static async Task EndAsync(StuckSocket socket, Task run)
    {
        socket.Abort();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task PastHalfTheBoundTypingAndPresenceAreShedWhileMessagesAreStillQueued()
    {
        var (connection, socket, run) = await StuckConnectionAsync(new Chat.Server.ChatOptions { SendQueueLimit = 16, CloseTimeout = TimeSpan.FromSeconds(30) }, new FakeTimeProvider());
        try
        {
            var typing = new OutboundFrame(Encoding.UTF8.GetBytes("{\"type\":\"typing\"}"), Ephemeral: true);
            var presence = new OutboundFrame(Encoding.UTF8.GetBytes("{\"type\":\"presence\"}"), Ephemeral: true);

            for (var i = 0; i < 7; i++) Assert.That(connection.Send(Message), Is.True);
            Assert.That(connection.Send(typing), Is.True, "below half the bound, typing is still queued");
            Assert.That(connection.QueuedFrames, Is.EqualTo(8));

            Assert.That(connection.Send(presence), Is.False, "at half the bound, presence is shed");
            Assert.That(connection.Send(typing), Is.False, "at half the bound, typing is shed");
            for (var i = 0; i < 20; i++) Assert.That(connection.Send(Message), Is.True, "stored messages are never shed");
            Assert.That(connection.QueuedFrames, Is.EqualTo(28));
        }
        finally
        {
            await EndAsync(socket, run);
        }
    }

    [Test]
    public async Task ABurstPastTheBoundIsNotTooSlowUntilTheQueueStaysPastItForTheSlowConsumerTimeout()
    {
        var clock = new FakeTimeProvider();
        var (connection, socket, run) = await StuckConnectionAsync(
            new Chat.Server.ChatOptions { SendQueueLimit = 8, SlowConsumerTimeout = TimeSpan.FromSeconds(5), CloseTimeout = TimeSpan.FromSeconds(30) }, clock);
        try
        {
            for (var i = 0; i < 100; i++) Assert.That(connection.Send(Message), Is.True, "a burst far past the frame bound is queued");
            Assert.That(connection.IsClosing, Is.False, "a burst alone does not make a client too slow");

            clock.Advance(TimeSpan.FromSeconds(4.9));
            Assert.That(connection.CloseIfTooSlow(), Is.False, "4.9 s past the bound is within the timeout");
            clock.Advance(TimeSpan.FromSeconds(0.2));
            Assert.That(connection.CloseIfTooSlow(), Is.True, "5.1 s past the bound without taking it is too slow");
            Assert.That(connection.IsClosing, Is.True);
            Assert.That(connection.QueuedBytes, Is.Zero, "what waited is dropped at once");
        }
        finally
        {
            await EndAsync(socket, run);
        }
    }

    [Test]
    public async Task ASocketPastItsBoundThatTakesABoundsWorthInEachTimeoutIsNotTooSlowAndOneThatStopsIs()
    {
        var clock = new FakeTimeProvider();
        var socket = new GatedSocket();
        var connection = new ChatConnection(socket, 1, "behind", 1,
            new Chat.Server.ChatOptions { SendQueueLimit = 1000, SendQueueBytes = 4096, SlowConsumerTimeout = TimeSpan.FromSeconds(5), CloseTimeout = TimeSpan.FromSeconds(30) },
            Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, clock: clock);
        var run = connection.RunAsync(Task.FromResult<IReadOnlyList<OutboundFrame>>([]), (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        try
        {
            var frame = new OutboundFrame(new byte[1000]);
            for (var i = 0; i < 100; i++) Assert.That(connection.Send(frame), Is.True, "a burst of 100 KB is queued past the 4 KB bound");
            Assert.That(connection.CloseIfTooSlow(), Is.False);

            for (var window = 0; window < 3; window++)
            {
                // The client takes 5 KB (more than the 4 KB bound) in each 5 s: behind the burst, but reading.
                socket.Allow(5);
                await Deadline.WaitUntilAsync(() => socket.Taken == 5 * (window + 1), TimeSpan.FromSeconds(5), "the writer to send what the client takes");
                clock.Advance(TimeSpan.FromSeconds(5.1));
                Assert.That(connection.CloseIfTooSlow(), Is.False, $"window {window}: a client that keeps taking a bound's worth is not too slow");
            }
            Assert.That(connection.QueuedBytes, Is.GreaterThan(4096), "still past its bound");

            // It stops taking: one more whole timeout without a bound's worth is too slow.
            socket.Allow(2);
            await Deadline.WaitUntilAsync(() => socket.Taken == 17, TimeSpan.FromSeconds(5), "the writer to send two more");
            clock.Advance(TimeSpan.FromSeconds(5.1));
            Assert.That(connection.CloseIfTooSlow(), Is.True, "2 KB in 5 s, past a 4 KB bound, is too slow");
        }
        finally
        {
            socket.Abort();
            await run.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [Test]
    public async Task WhileTheServerWideBudgetIsSpentASocketPastItsBoundIsClosedAtOnceAndOneWithinItIsNot()
    {
        var options = new Chat.Server.ChatOptions { SendQueueBytes = 2048, MaxOutboundBytes = 3000, SlowConsumerTimeout = TimeSpan.FromHours(1), CloseTimeout = TimeSpan.FromSeconds(30) };
        var budget = new OutboundBudget(Microsoft.Extensions.Options.Options.Create(options));
        var clock = new FakeTimeProvider();
        var (within, withinSocket, withinRun) = await StuckConnectionAsync(options, clock, budget);
        var (past, pastSocket, pastRun) = await StuckConnectionAsync(options, clock, budget);
        try
        {
            var frame = new OutboundFrame(new byte[1000]);
            Assert.That(within.Send(frame), Is.True);
            Assert.That(past.Send(frame) && past.Send(frame), Is.True, "2,000 bytes: within its bound, within the budget");
            Assert.That(budget.TotalBytes, Is.EqualTo(3000));
            Assert.That(past.Send(frame), Is.False, "3,000 bytes: past its bound while the server holds 4,000 of a 3,000-byte budget");
            Assert.That((past.IsClosing, within.IsClosing), Is.EqualTo((true, false)), "only the socket past its own bound pays");
            Assert.That(budget.TotalBytes, Is.EqualTo(1000), "the closed socket's bytes are given back");
        }
        finally
        {
            await EndAsync(withinSocket, withinRun);
            await EndAsync(pastSocket, pastRun);
        }
    }

    [Test]
    public async Task AnOverflowedConnectionWhoseSendIsStuckIsAbortedAfterTheCloseTimeout()
    {
        var closeTimeout = TimeSpan.FromMilliseconds(300);
        var clock = new FakeTimeProvider();
        var (connection, socket, run) = await StuckConnectionAsync(
            new Chat.Server.ChatOptions { SendQueueLimit = 8, SlowConsumerTimeout = TimeSpan.Zero, CloseTimeout = closeTimeout }, clock);
        try
        {
            for (var i = 0; i < 20 && !connection.IsClosing; i++) connection.Send(Message);
            Assert.That(connection.IsClosing, Is.True, "the queue passed its bound with no time allowed");

            // Neither loop can finish by itself (the peer neither reads nor sends): the connection must give up once
            // the close timeout has passed on its clock, and not before.
            await Task.Delay(200);
            clock.Advance(closeTimeout - TimeSpan.FromMilliseconds(1));
            await Task.Delay(200);
            Assert.That(run.IsCompleted || socket.WasAborted, Is.False, "aborted before the close timeout");
            clock.Advance(TimeSpan.FromMilliseconds(2));
            var finished = await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(5))) == run;
            Assert.That(finished && socket.WasAborted, Is.True,
                $"a closed connection stuck in SendAsync must be aborted after the close timeout ({closeTimeout.TotalMilliseconds} ms)");
        }
        finally
        {
            await EndAsync(socket, run);
        }
    }

    /// <summary>A peer that never reads and never sends: SendAsync and ReceiveAsync hang until Abort.</summary>
    private sealed class StuckSocket : WebSocket
    {
        private readonly TaskCompletionSource _aborted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _sendsStarted;

        public int SendsStarted => Volatile.Read(ref _sendsStarted);
        public bool WasAborted => _aborted.Task.IsCompleted;

        public override WebSocketCloseStatus? CloseStatus => null;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => WasAborted ? WebSocketState.Aborted : WebSocketState.Open;
        public override string? SubProtocol => null;

        public override void Abort() => _aborted.TrySetResult();
        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Hang(cancellationToken);
        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Hang(cancellationToken);
        public override void Dispose() => Abort();

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            await Hang(cancellationToken);
            throw new InvalidOperationException("unreachable");
        }

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _sendsStarted);
            return Hang(cancellationToken);
        }

        private async Task Hang(CancellationToken cancellationToken)
        {
            await _aborted.Task.WaitAsync(cancellationToken);
            throw new WebSocketException(WebSocketError.ConnectionClosedPrematurely);
        }
    }
}

/// <summary>A peer that takes a frame only when the test allows it; ReceiveAsync hangs until Abort.</summary>
internal sealed class GatedSocket : WebSocket
{
    private readonly SemaphoreSlim _permits = new(0);
    private readonly CancellationTokenSource _aborted = new();
    private int _taken;

    public int Taken => Volatile.Read(ref _taken);

    public void Allow(int frames) => _permits.Release(frames);

    public override WebSocketCloseStatus? CloseStatus => null;
    public override string? CloseStatusDescription => null;
    public override WebSocketState State => _aborted.IsCancellationRequested ? WebSocketState.Aborted : WebSocketState.Open;
    public override string? SubProtocol => null;

    public override void Abort() => _aborted.Cancel();
    public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Task.CompletedTask;
    public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Task.CompletedTask;
    public override void Dispose() => Abort();

    public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
    {
        await Task.Delay(Timeout.Infinite, _aborted.Token);
        throw new InvalidOperationException("unreachable");
    }

    public override async Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
    {
        await _permits.WaitAsync(_aborted.Token);
        Interlocked.Increment(ref _taken);
    }
}

/// <summary>The fields of a server frame a test needs, without keeping its body.</summary>
internal readonly record struct LightFrame(string Type, long MessageId, string? ClientMsgId, bool HasMore, long LastMessageId);

/// <summary>
/// A raw <see cref="ClientWebSocket"/> read by a background loop that keeps only <see cref="LightFrame"/>s, so
/// thousands of large frames do not fill the test's own heap (which is also the in-process server's).
/// </summary>
internal sealed class LightSocket : IDisposable
{
    private readonly Action<LightFrame> _onFrame;

    public LightSocket(WebSocket socket, Action<LightFrame> onFrame)
    {
        Socket = socket;
        _onFrame = onFrame;
        Completion = Task.Run(ReadLoopAsync);
    }

    public WebSocket Socket { get; }
    public Channel<LightFrame> Frames { get; } = Channel.CreateUnbounded<LightFrame>();
    public Task Completion { get; }
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public static async Task<ClientWebSocket> ConnectRawAsync(ChatApp app, string token)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        await socket.ConnectAsync(new UriBuilder(new Uri(app.BaseAddress, "ws")) { Scheme = "ws" }.Uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return socket;
    }

    public static async Task<LightSocket> ConnectAsync(ChatApp app, string token, Action<LightFrame> onFrame) =>
        new(await ConnectRawAsync(app, token), onFrame);

    public async Task<LightFrame> NextAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            return await Frames.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No frame arrived within {timeout.TotalSeconds}s.");
        }
    }

    public async Task<LightFrame> ExpectConnectedAsync()
    {
        var frame = await NextAsync(TimeSpan.FromSeconds(10));
        Assert.That(frame.Type, Is.EqualTo("connected"));
        return frame;
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[256 * 1024];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await Socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                } while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = Socket.CloseStatus;
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    try { await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token); } catch (Exception) { }
                    return;
                }
                var frame = Parse(buffer.AsSpan(0, count));
                _onFrame(frame);
                Frames.Writer.TryWrite(frame);
            }
        }
        catch (Exception)
        {
            CloseStatus = Socket.CloseStatus;
        }
        finally
        {
            Frames.Writer.TryComplete();
        }
    }

    private static LightFrame Parse(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        string type = "";
        string? clientMsgId = null;
        long messageId = 0, lastMessageId = 0;
        var hasMore = false;
        reader.Read(); // start object
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString();
            reader.Read();
            switch (name)
            {
                case "type": type = reader.GetString()!; break;
                case "message_id" when reader.TokenType == JsonTokenType.Number: messageId = reader.GetInt64(); break;
                case "last_message_id" when reader.TokenType == JsonTokenType.Number: lastMessageId = reader.GetInt64(); break;
                case "client_msg_id" when reader.TokenType == JsonTokenType.String: clientMsgId = reader.GetString(); break;
                case "has_more" when reader.TokenType is JsonTokenType.True or JsonTokenType.False: hasMore = reader.GetBoolean(); break;
                default: reader.Skip(); break;
            }
        }
        return new LightFrame(type, messageId, clientMsgId, hasMore, lastMessageId);
    }

    public void Dispose()
    {
        try
        {
            if (Socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token).Wait(TimeSpan.FromSeconds(2));
                Completion.Wait(TimeSpan.FromSeconds(2));
            }
        }
        catch (Exception)
        {
            // best effort
        }
        Socket.Abort();
        Socket.Dispose();
    }
}

internal static class AsyncEnumerableTimeout
{
    /// <summary>Ends the enumeration with a clear failure when it does not complete in time.</summary>
    public static async IAsyncEnumerable<T> WithTimeout<T>(this IAsyncEnumerable<T> source, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var enumerator = source.GetAsyncEnumerator(cts.Token);
        try
        {
            while (true)
            {
                bool more;
                try
                {
                    more = await enumerator.MoveNextAsync();
                }
                catch (OperationCanceledException)
                {
                    Assert.Fail($"The stream did not end within {timeout.TotalSeconds}s.");
                    yield break;
                }
                if (!more) yield break;
                yield return enumerator.Current;
            }
        }
        finally
        {
            await enumerator.DisposeAsync();
        }
    }
}
