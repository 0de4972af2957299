using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Hardening;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// A bare TCP client speaking just enough HTTP and WebSocket framing (RFC 6455) to check bytes on the wire: the
/// upgrade head, masked client frames of any opcode, server frames, and how the server ends the connection (an
/// orderly FIN or a reset).
/// </summary>
public sealed class RawWebSocket : IAsyncDisposable
{
    /// <summary>The sample key of RFC 6455 section 1.3.</summary>
    public const string SampleKey = "dGhlIHNhbXBsZSBub25jZQ==";

    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly List<byte> _pending = [];
    private readonly CancellationTokenSource _timeout;

    private RawWebSocket(TcpClient tcp, TimeSpan timeout)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _timeout = new CancellationTokenSource(timeout);
    }

    /// <summary>Opens a TCP connection; every later read or write fails after <paramref name="timeout"/> (default 10 s) in all.</summary>
    public static async Task<RawWebSocket> OpenAsync(Uri server, TimeSpan? timeout = null)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(server.Host, server.Port);
        return new RawWebSocket(tcp, timeout ?? TimeSpan.FromSeconds(10));
    }

    /// <summary>Opens a connection and upgrades it with the whole head in one write (the server's fast path); asserts 101.</summary>
    public static async Task<RawWebSocket> UpgradeAsync(Uri server, string token, TimeSpan? timeout = null)
    {
        var raw = await OpenAsync(server, timeout);
        await raw.WriteAsync(UpgradeHead(server, "/ws", $"Bearer {token}"));
        Assert.That(await raw.ReadHeadAsync(), Does.StartWith("HTTP/1.1 101 "));
        return raw;
    }

    /// <summary>A complete upgrade head; <paramref name="origin"/> adds the <c>Origin</c> header browsers send.</summary>
    public static string UpgradeHead(Uri server, string target, string? authorization, string key = SampleKey, string? origin = null) =>
        $"GET {target} HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        $"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n" + (authorization is null ? "" : $"Authorization: {authorization}\r\n") +
        (origin is null ? "" : $"Origin: {origin}\r\n") + "\r\n";

    public static string ExpectedAccept(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

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
            if (!await FillAsync()) throw new AssertionException("the server closed the connection");
        }
    }

    /// <summary>The next text frame's JSON object.</summary>
    public async Task<JsonObject> ReadTextFrameAsync()
    {
        var (opcode, payload) = await ReadFrameAsync();
        Assert.That(opcode, Is.EqualTo(0x1), "an unfragmented text frame");
        return JsonNode.Parse(Encoding.UTF8.GetString(payload))!.AsObject();
    }

    /// <summary>The next whole server frame: its opcode (FIN must be set) and unmasked payload.</summary>
    public async Task<(int Opcode, byte[] Payload)> ReadFrameAsync()
    {
        while (true)
        {
            if (_pending.Count >= 2)
            {
                Assert.That(_pending[0] & 0x80, Is.Not.Zero, "an unfragmented frame (FIN set)");
                Assert.That(_pending[1] & 0x80, Is.Zero, "server frames are not masked");
                var (length, offset) = (_pending[1] & 0x7f) switch
                {
                    126 when _pending.Count >= 4 => ((_pending[2] << 8) | _pending[3], 4),
                    126 => (-1, 0),
                    127 when _pending.Count >= 10 => ((int)System.Buffers.Binary.BinaryPrimitives.ReadInt64BigEndian(_pending.GetRange(2, 8).ToArray()), 10),
                    127 => (-1, 0),
                    var small => (small, 2),
                };
                if (length >= 0 && _pending.Count >= offset + length)
                {
                    var opcode = _pending[0] & 0x0f;
                    var payload = _pending.GetRange(offset, length).ToArray();
                    _pending.RemoveRange(0, offset + length);
                    return (opcode, payload);
                }
            }
            if (!await FillAsync()) throw new AssertionException("the server closed the connection");
        }
    }

    /// <summary>Reads until the server ends the connection: true for an orderly close (FIN), false for a reset. Frames still arriving are dropped.</summary>
    public async Task<bool> ReadToEndAsync()
    {
        try
        {
            while (await FillAsync()) _pending.Clear();
            return true;
        }
        catch (IOException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset })
        {
            return false;
        }
    }

    private async Task<bool> FillAsync()
    {
        var buffer = new byte[16 * 1024];
        var n = await _stream.ReadAsync(buffer, _timeout.Token);
        if (n == 0) return false;
        _pending.AddRange(buffer.AsSpan(0, n).ToArray());
        return true;
    }

    public static string? Header(string head, string name) => RawHttpAnswer.HeaderIn(head, name);

    public static byte[] MaskedTextFrame(string text) => MaskedFrame(0x1, Encoding.UTF8.GetBytes(text));

    /// <summary>A close frame with a status code (any value, valid or not) and a reason.</summary>
    public static byte[] MaskedCloseFrame(int status, string reason = "") =>
        MaskedFrame(0x8, [(byte)(status >> 8), (byte)status, .. Encoding.UTF8.GetBytes(reason)]);

    /// <summary>One client frame (FIN set, masked as RFC 6455 section 5.3 requires) with a payload under 64 KiB.</summary>
    public static byte[] MaskedFrame(int opcode, byte[] payload)
    {
        Assert.That(payload.Length, Is.LessThan(65536));
        var header = payload.Length < 126 ? new byte[] { (byte)(0x80 | opcode), (byte)(0x80 | payload.Length) }
            : [(byte)(0x80 | opcode), 0x80 | 126, (byte)(payload.Length >> 8), (byte)payload.Length];
        var mask = RandomNumberGenerator.GetBytes(4);
        var frame = new byte[header.Length + 4 + payload.Length];
        header.CopyTo(frame, 0);
        mask.CopyTo(frame, header.Length);
        for (var i = 0; i < payload.Length; i++) frame[header.Length + 4 + i] = (byte)(payload[i] ^ mask[i % 4]);
        return frame;
    }

    public async ValueTask DisposeAsync()
    {
        _timeout.Dispose();
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
