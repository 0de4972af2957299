using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Hardening;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Realtime;

/// <summary>
/// The connection-level fast path for <c>/ws</c> (Kestrel only), byte for byte over raw TCP: a correct RFC 6455
/// handshake, frames that arrive in the same packet as the head, and every request it does not take (a head
/// split across packets, other paths, bad tokens) still answered by the HTTP pipeline as before.
/// </summary>
[TestFixture]
public sealed class WebSocketFastPathTests
{
    private ChatApp _app = null!;
    private TestUser _alice = null!;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.Kestrel);
        _alice = await _app.RegisterAsync("alice");
        await _app.RegisterAsync("bob");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private string Head(string target, string? authorization, string key = "dGhlIHNhbXBsZSBub25jZQ==") =>
        $"GET {target} HTTP/1.1\r\nHost: {_app.BaseAddress.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n" + (authorization is null ? "" : $"Authorization: {authorization}\r\n") + "\r\n";

    private static string ExpectedAccept(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

    [Test]
    public async Task AnUpgradeWithABearerTokenGetsTheRfc6455AcceptKeyAndThenConnected()
    {
        await using var raw = await RawSocket.OpenAsync(_app.BaseAddress);
        await raw.WriteAsync(Head("/ws", $"Bearer {_alice.Token}"));
        var head = await raw.ReadHeadAsync();
        Assert.That(head, Does.StartWith("HTTP/1.1 101 "));
        Assert.That(RawSocket.Header(head, "Sec-WebSocket-Accept"), Is.EqualTo(ExpectedAccept("dGhlIHNhbXBsZSBub25jZQ==")));
        Assert.That(RawSocket.Header(head, "Upgrade"), Is.EqualTo("websocket").IgnoreCase);
        // Kestrel's HTTP pipeline always adds Date; the fast path's 101 is the bare handshake.
        Assert.That(RawSocket.Header(head, "Date"), Is.Null, "answered by the fast path, not the pipeline");
        var connected = await raw.ReadTextFrameAsync();
        Assert.That(connected["type"]!.GetValue<string>(), Is.EqualTo("connected"));
        Assert.That(connected["username"]!.GetValue<string>(), Is.EqualTo("alice"));
    }

    [Test]
    public async Task AQueryTokenWorksAndAFrameSentInTheSamePacketAsTheHeadIsServed()
    {
        await using var raw = await RawSocket.OpenAsync(_app.BaseAddress);
        var send = new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = "pipelined", ["client_msg_id"] = "p1" };
        await raw.WriteAsync([.. Encoding.ASCII.GetBytes(Head($"/ws?token={Uri.EscapeDataString(_alice.Token)}", null)), .. RawSocket.MaskedTextFrame(send.ToJsonString())]);
        Assert.That(await raw.ReadHeadAsync(), Does.StartWith("HTTP/1.1 101 "));
        var types = new List<string>();
        for (var i = 0; i < 6 && !types.Contains("ack"); i++) types.Add((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>());
        Assert.That(types, Does.Contain("connected").And.Contain("ack"));
        Assert.That((await _alice.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task AHeadSplitAcrossPacketsIsLeftToThePipelineAndStillUpgrades()
    {
        await using var raw = await RawSocket.OpenAsync(_app.BaseAddress);
        var head = Head("/ws", $"Bearer {_alice.Token}");
        await raw.WriteAsync(head[..20]);
        await Task.Delay(200);
        await raw.WriteAsync(head[20..]);
        var answer = await raw.ReadHeadAsync();
        Assert.That(answer, Does.StartWith("HTTP/1.1 101 "));
        Assert.That(RawSocket.Header(answer, "Date"), Is.Not.Null, "answered by the HTTP pipeline");
        Assert.That(RawSocket.Header(answer, "Sec-WebSocket-Accept"), Is.EqualTo(ExpectedAccept("dGhlIHNhbXBsZSBub25jZQ==")));
        Assert.That((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>(), Is.EqualTo("connected"));
    }

    [TestCase("/ws", "Bearer not-a-token", 401)]
    [TestCase("/ws", null, 401)]
    [TestCase("/ws", "Basic YWxpY2U6cHc=", 401)]
    [TestCase("/nowhere", "VALID", 404)]
    public async Task UpgradesItDoesNotTakeGetThePipelinesAnswer(string target, string? authorization, int status)
    {
        await using var raw = await RawSocket.OpenAsync(_app.BaseAddress);
        await raw.WriteAsync(Head(target, authorization == "VALID" ? $"Bearer {_alice.Token}" : authorization));
        var head = await raw.ReadHeadAsync();
        Assert.That(head, Does.StartWith($"HTTP/1.1 {status} "));
    }

    [Test]
    public async Task AMalformedKeyIsNotUpgraded()
    {
        await using var raw = await RawSocket.OpenAsync(_app.BaseAddress);
        await raw.WriteAsync(Head("/ws", $"Bearer {_alice.Token}", key: "too-short"));
        var head = await raw.ReadHeadAsync();
        Assert.That(head, Does.Not.StartWith("HTTP/1.1 101 "));
        Assert.That(head, Does.StartWith("HTTP/1.1 4"));
    }

    /// <summary>A bare TCP client speaking just enough HTTP and WebSocket framing to check bytes on the wire.</summary>
    private sealed class RawSocket : IAsyncDisposable
    {
        private readonly TcpClient _tcp;
        private readonly NetworkStream _stream;
        private readonly List<byte> _pending = [];
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(10));

        private RawSocket(TcpClient tcp)
        {
            _tcp = tcp;
            _stream = tcp.GetStream();
        }

        public static async Task<RawSocket> OpenAsync(Uri server)
        {
            var tcp = new TcpClient { NoDelay = true };
            await tcp.ConnectAsync(server.Host, server.Port);
            return new RawSocket(tcp);
        }

        public Task WriteAsync(string text) => WriteAsync(Encoding.ASCII.GetBytes(text));

        public async Task WriteAsync(byte[] bytes) => await _stream.WriteAsync(bytes, _timeout.Token);

        public async Task<string> ReadHeadAsync()
        {
            while (true)
            {
                var text = Encoding.Latin1.GetString(_pending.ToArray());
                var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
                if (end >= 0)
                {
                    _pending.RemoveRange(0, end + 4);
                    return text[..end];
                }
                await FillAsync();
            }
        }

        public async Task<JsonObject> ReadTextFrameAsync()
        {
            while (true)
            {
                if (_pending.Count >= 2)
                {
                    Assert.That(_pending[0], Is.EqualTo(0x81), "an unfragmented text frame");
                    Assert.That(_pending[1] & 0x80, Is.Zero, "server frames are not masked");
                    var (length, offset) = (_pending[1] & 0x7f) switch
                    {
                        126 when _pending.Count >= 4 => ((_pending[2] << 8) | _pending[3], 4),
                        126 => (-1, 0),
                        127 => throw new AssertionException("unexpectedly large frame"),
                        var small => (small, 2),
                    };
                    if (length >= 0 && _pending.Count >= offset + length)
                    {
                        var payload = Encoding.UTF8.GetString(_pending.GetRange(offset, length).ToArray());
                        _pending.RemoveRange(0, offset + length);
                        return JsonNode.Parse(payload)!.AsObject();
                    }
                }
                await FillAsync();
            }
        }

        private async Task FillAsync()
        {
            var buffer = new byte[4096];
            var n = await _stream.ReadAsync(buffer, _timeout.Token);
            if (n == 0) throw new AssertionException("the server closed the connection");
            _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        public static string? Header(string head, string name) => RawHttpAnswer.HeaderIn(head, name);

        public static byte[] MaskedTextFrame(string text)
        {
            var payload = Encoding.UTF8.GetBytes(text);
            Assert.That(payload.Length, Is.LessThan(126));
            var mask = RandomNumberGenerator.GetBytes(4);
            var frame = new byte[2 + 4 + payload.Length];
            frame[0] = 0x81;
            frame[1] = (byte)(0x80 | payload.Length);
            mask.CopyTo(frame, 2);
            for (var i = 0; i < payload.Length; i++) frame[6 + i] = (byte)(payload[i] ^ mask[i % 4]);
            return frame;
        }

        public async ValueTask DisposeAsync()
        {
            _timeout.Dispose();
            await _stream.DisposeAsync();
            _tcp.Dispose();
        }
    }
}
