using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using static Chat.Tests.Realtime.RealtimeTestHelpers;

namespace Chat.Tests.Realtime;

/// <summary>
/// Section 3 "Limits and closing", over TestHost and real Kestrel sockets: the close code for each condition,
/// and that closing one socket leaves every other socket working.
/// </summary>
[TestFixture(Transport.TestHost)]
[TestFixture(Transport.Kestrel)]
public sealed class CloseCodeTests(Transport transport)
{
    private const int MaxFrameBytes = 2048;

    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() =>
        _app = await ChatApp.StartAsync(transport, new Dictionary<string, string?> { ["Chat:MaxFrameBytes"] = MaxFrameBytes.ToString() });

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    public enum Offence { OversizedText, Binary, InvalidUtf8 }

    private static readonly Dictionary<Offence, WebSocketCloseStatus> ExpectedClose = new()
    {
        [Offence.OversizedText] = (WebSocketCloseStatus)1009,
        [Offence.Binary] = (WebSocketCloseStatus)1003,
        [Offence.InvalidUtf8] = (WebSocketCloseStatus)1007,
    };

    /// <summary>A ping frame padded with a JSON string to exactly <paramref name="bytes"/> bytes.</summary>
    private static string PaddedPing(int bytes)
    {
        var head = """{"type":"ping","pad":" """.TrimEnd();
        const string tail = "\"}";
        return head + new string('x', bytes - head.Length - tail.Length) + tail;
    }

    private static Task CommitAsync(ChatSocket socket, Offence offence) => offence switch
    {
        Offence.OversizedText => socket.SendTextAsync(PaddedPing(3000)),
        Offence.Binary => socket.SendRawAsync(Encoding.UTF8.GetBytes("""{"type":"ping"}"""), WebSocketMessageType.Binary),
        Offence.InvalidUtf8 => socket.SendRawAsync([0x7B, 0xFF, 0xFE, 0x7D], WebSocketMessageType.Text),
        _ => throw new ArgumentOutOfRangeException(nameof(offence)),
    };

    /// <summary>
    /// Repeats the offence on fresh sockets: a close that races the connection teardown (the peer sees a reset
    /// instead of the close code) shows up within a few attempts rather than once in a while.
    /// </summary>
    private async Task AssertEveryAttemptClosesWithAsync(TestUser user, Offence offence, int attempts = 10)
    {
        for (var i = 0; i < attempts; i++)
        {
            await using var socket = await user.ConnectReadyAsync();
            await CommitAsync(socket, offence);
            Assert.That(await socket.WaitClosedAsync(), Is.EqualTo(ExpectedClose[offence]), $"attempt {i + 1} of {attempts}");
            Assert.That(socket.History.Select(f => f.Type()), Has.None.EqualTo("pong").And.None.EqualTo("error"),
                "the offending message was not acted on");
        }
    }

    [Test]
    public async Task TextMessageLargerThanMaxFrameBytesClosesWith1009()
    {
        var alice = await _app.RegisterAsync("alice");
        await AssertEveryAttemptClosesWithAsync(alice, Offence.OversizedText);
    }

    [Test]
    public async Task TextMessageWithinMaxFrameBytesIsAccepted()
    {
        var alice = await _app.RegisterAsync("alice");
        await using var socket = await alice.ConnectReadyAsync();
        var text = PaddedPing(MaxFrameBytes);
        Assert.That(Encoding.UTF8.GetByteCount(text), Is.EqualTo(MaxFrameBytes));
        await socket.SendTextAsync(text);
        await socket.ExpectAsync("pong");
        await socket.AssertStillOpenAsync();
    }

    [Test]
    public async Task BinaryMessageClosesWith1003()
    {
        var alice = await _app.RegisterAsync("alice");
        await AssertEveryAttemptClosesWithAsync(alice, Offence.Binary);
    }

    [Test]
    public async Task InvalidUtf8TextMessageClosesWith1007()
    {
        // Over Kestrel the framework's own WebSocket may be the one to close with 1007; either way the peer must see 1007.
        var alice = await _app.RegisterAsync("alice");
        await AssertEveryAttemptClosesWithAsync(alice, Offence.InvalidUtf8, attempts: 20);
    }

    /// <summary>A socket nobody reads from in the background, for clients that read the close a moment later.</summary>
    private async Task<WebSocket> ConnectRawAsync(string token)
    {
        if (transport == Transport.TestHost)
        {
            var client = _app.App.GetTestServer().CreateWebSocketClient();
            client.ConfigureRequest = r => r.Headers.Authorization = $"Bearer {token}";
            return await client.ConnectAsync(new Uri("ws://localhost/ws"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        await socket.ConnectAsync(new UriBuilder(new Uri(_app.BaseAddress, "ws")) { Scheme = "ws" }.Uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return socket;
    }

    [TestCase(Offence.OversizedText)]
    [TestCase(Offence.Binary)]
    [TestCase(Offence.InvalidUtf8)]
    public async Task CloseCodeReachesAClientThatReadsItAMomentLater(Offence offence)
    {
        var alice = await _app.RegisterAsync("alice");
        var buffer = new byte[64 * 1024];
        // Repeated because a close that races the connection teardown is lost only now and then.
        const int Attempts = 20;
        for (var i = 0; i < Attempts; i++)
        {
            using var socket = await ConnectRawAsync(alice.Token);
            using var cts = new CancellationTokenSource(ChatSocket.DefaultTimeout);
            var connected = await socket.ReceiveAsync(buffer.AsMemory(), cts.Token);
            Assert.That(connected.MessageType, Is.EqualTo(WebSocketMessageType.Text));
            byte[] bytes = offence switch
            {
                Offence.OversizedText => Encoding.UTF8.GetBytes(PaddedPing(3000)),
                Offence.Binary => Encoding.UTF8.GetBytes("""{"type":"ping"}"""),
                _ => [0x7B, 0xFF, 0xFE, 0x7D],
            };
            await socket.SendAsync(bytes, offence == Offence.Binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text, true, cts.Token);
            // The client is busy for a moment; the close frame must still be there when it reads.
            await Task.Delay(100);
            ValueWebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(), cts.Token);
            }
            catch (WebSocketException e)
            {
                Assert.Fail($"attempt {i + 1}: the connection dropped without a close frame: {e.Message} {e.InnerException?.Message}");
                return;
            }
            Assert.That(result.MessageType, Is.EqualTo(WebSocketMessageType.Close), $"attempt {i + 1}");
            Assert.That(socket.CloseStatus, Is.EqualTo(ExpectedClose[offence]), $"attempt {i + 1}");
        }
    }

    [TestCase(Offence.OversizedText)]
    [TestCase(Offence.Binary)]
    [TestCase(Offence.InvalidUtf8)]
    public async Task OtherUsersSocketsKeepWorkingAfterAMisbehavingSocketIsClosed(Offence offence)
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var carol = await _app.RegisterAsync("carol");
        await using var aliceSocket = await alice.ConnectReadyAsync();
        await using var bobSocket = await bob.ConnectReadyAsync();
        await using var carolSocket = await carol.ConnectReadyAsync();

        await CommitAsync(aliceSocket, offence);
        Assert.That(await aliceSocket.WaitClosedAsync(), Is.EqualTo(ExpectedClose[offence]));

        // bob -> carol as a frame, carol -> bob over HTTP: both sockets still send and receive.
        await bobSocket.SendAsync(SendMessageFrame("carol", "still here?", "b1"));
        Assert.That((await bobSocket.WaitForAsync("ack")).Str("client_msg_id"), Is.EqualTo("b1"));
        Assert.That((await carolSocket.WaitForAsync("chat_message")).Str("message"), Is.EqualTo("still here?"));
        await carol.SendAsync("bob", "yes");
        Assert.That((await bobSocket.WaitForAsync("chat_message")).Str("message"), Is.EqualTo("yes"));
        await bobSocket.AssertStillOpenAsync();
        await carolSocket.AssertStillOpenAsync();

        // The closed user is not locked out: the token still opens a new socket.
        await using var again = await alice.ConnectAsync();
        await again.ExpectAsync("connected");
    }

    [Test]
    public async Task LogoutClosesTheSocketsOfThatTokenWith1008AndLeavesOtherTokensSocketsOpen()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var secondToken = await _app.LoginAsync("alice", alice.Password);
        Assert.That(secondToken, Is.Not.EqualTo(alice.Token));

        await using var viaHeader = await alice.ConnectReadyAsync();
        await using var viaQuery = await alice.ConnectReadyAsync(viaQuery: true);
        await using var otherDevice = await _app.ConnectAsync(secondToken);
        await otherDevice.ExpectAsync("connected");

        using (var client = alice.Client())
        {
            var logout = await client.PostAsync("/api/auth/logout", null);
            Assert.That((int)logout.StatusCode, Is.EqualTo(204));
        }

        Assert.That(await viaHeader.WaitClosedAsync(), Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        Assert.That(await viaQuery.WaitClosedAsync(), Is.EqualTo(WebSocketCloseStatus.PolicyViolation));

        // The second login's socket is untouched and still gets alice's messages.
        await otherDevice.AssertStillOpenAsync();
        await bob.SendAsync("alice", "are you there?");
        Assert.That((await otherDevice.WaitForAsync("chat_message")).Str("message"), Is.EqualTo("are you there?"));
        Assert.That(otherDevice.Socket.State, Is.EqualTo(WebSocketState.Open));
    }

    [Test]
    public async Task StoppingTheServerClosesEverySocketWith1001()
    {
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        await alice.SendAsync("bob", "hi");
        await using var alice1 = await alice.ConnectReadyAsync();
        await using var alice2 = await alice.ConnectReadyAsync(viaQuery: true);
        await using var bob1 = await bob.ConnectReadyAsync();
        // Every socket is registered and being read before the stop begins.
        foreach (var s in new[] { alice1, alice2, bob1 }) await s.DrainAsync();

        var stop = _app.StopAsync();
        foreach (var s in new[] { alice1, alice2, bob1 })
            Assert.That(await s.WaitClosedAsync(TimeSpan.FromSeconds(15)), Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
        await stop.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
