using System.Buffers.Text;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Chat.Protocol;
using Chat.Protocol.Http;

namespace Chat.Bench;

public sealed record BenchUser(int Index, string Username, string Token);

/// <summary>HTTP side: registration (the server hashes each password, so this is the slow part of set-up).</summary>
public static class Http
{
    public const string Password = "bench-password-1";

    public static HttpClient CreateClient(Uri baseUri, int connections = 16) =>
        new(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = connections,
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
        })
        {
            BaseAddress = baseUri,
            Timeout = TimeSpan.FromSeconds(120),
        };

    /// <summary>Registers <paramref name="count"/> users named <c>{prefix}{i}</c>, <paramref name="concurrency"/> at a time.</summary>
    public static async Task<BenchUser[]> RegisterAsync(HttpClient http, string prefix, int count, int concurrency, bool quiet = false)
    {
        var users = new BenchUser[count];
        var next = -1;
        var done = 0;
        var sw = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Math.Max(1, concurrency)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var name = prefix + i.ToString(System.Globalization.CultureInfo.InvariantCulture);
                using var response = await http.PostAsJsonAsync("api/auth/register",
                    new RegisterRequest(name, Password, FullName: "Bench User " + i), ChatJsonContext.Default.RegisterRequest);
                if (response.StatusCode != HttpStatusCode.Created)
                    throw new InvalidOperationException($"register {name}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                var auth = await response.Content.ReadFromJsonAsync(ChatJsonContext.Default.AuthResponse)
                    ?? throw new InvalidOperationException("register: empty body");
                users[i] = new BenchUser(i, name, auth.Token);
                var d = Interlocked.Increment(ref done);
                if (!quiet && d % 500 == 0) Console.WriteLine($"  registered {d}/{count} ({d / sw.Elapsed.TotalSeconds:F0}/s)");
            }
        }).ToArray();
        await Task.WhenAll(workers);
        if (!quiet) Console.WriteLine($"registered {count} users in {sw.Elapsed.TotalSeconds:F1} s ({count / sw.Elapsed.TotalSeconds:F0}/s)");
        return users;
    }

    public static string RunTag() => "b" + Guid.NewGuid().ToString("N")[..6] + "_";
}

/// <summary>A send the scheduler asks a socket to make.</summary>
public readonly record struct SendItem(long Seq, int Receiver, long Ticks);

/// <summary>
/// One measured run (a fanout step or a max run). Messages carry their step and sequence number in the
/// client_msg_id and in the body, and the body also carries the scheduled (or actual) send time, so a
/// receiver can time a delivery without any shared lookup.
/// Body layout (64 ASCII bytes): <c>SS:NNNNNNNNNN:TTTTTTTTTTTTTTTTTTT:</c> then 'x' padding.
/// </summary>
public sealed class RunState
{
    public const int BodyLength = 64;
    public const int CidLength = 13; // "SS:NNNNNNNNNN"

    public RunState(int step, long capacity)
    {
        Step = step;
        Capacity = capacity;
        AckedFlags = new byte[capacity];
        DeliveredFlags = new byte[capacity];
        SendTicks = new long[capacity];
        Delivery = new HdrHistogram.LongConcurrentHistogram(1, 120_000_000, 3);
        AckLatency = new HdrHistogram.LongConcurrentHistogram(1, 120_000_000, 3);
    }

    public int Step { get; }
    public long Capacity { get; }
    public byte[] AckedFlags { get; }
    public byte[] DeliveredFlags { get; }
    public long[] SendTicks { get; }
    /// <summary>Scheduled (open loop) or actual (closed loop) send → receiver's chat_message, microseconds.</summary>
    public HdrHistogram.LongConcurrentHistogram Delivery { get; }
    /// <summary>Scheduled/actual send → sender's ack, microseconds.</summary>
    public HdrHistogram.LongConcurrentHistogram AckLatency { get; }

    public long Sent;
    public long Acked;
    public long Delivered;
    public long Errors;
    public long Duplicates;
    public long Stale;
    public long NextSeq;
    public long LastDeliveryTicks;
    public long LastAckTicks;
    public volatile bool Stopping;

    public static long Micros(long ticks) => ticks * 1_000_000 / Stopwatch.Frequency;
}

/// <summary>
/// One authenticated WebSocket with one receive loop. Sends go through one sender loop per socket
/// (ClientWebSocket allows one send at a time) from a channel (open loop) or a window (closed loop).
/// </summary>
public sealed class Conn
{
    private static readonly byte[] TypeKey = "type"u8.ToArray();
    private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly byte[] _sendBuffer = new byte[512];
    private readonly int _receiveBufferSize;
    private volatile RunState? _state;

    public Conn(BenchUser user, int receiveBufferSize = 4096)
    {
        User = user;
        _receiveBufferSize = receiveBufferSize;
    }

    public BenchUser User { get; }
    public ClientWebSocket Ws { get; } = new();
    public Task? ReceiveLoop { get; private set; }
    public long FramesReceived;
    public WebSocketCloseStatus? CloseStatus { get; private set; }
    public bool Closed { get; private set; }
    public Channel<SendItem>? Outbox { get; private set; }
    public SemaphoreSlim? Window { get; private set; }

    public RunState? State { get => _state; set => _state = value; }

    public async Task ConnectAsync(Uri wsUri, CancellationToken ct)
    {
        Ws.Options.SetRequestHeader("Authorization", "Bearer " + User.Token);
        Ws.Options.KeepAliveInterval = TimeSpan.Zero;
        await Ws.ConnectAsync(wsUri, ct);
        ReceiveLoop = Task.Run(ReceiveAsync, CancellationToken.None);
        await _connected.Task.WaitAsync(ct);
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[_receiveBufferSize];
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                var r = await Ws.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close) { CloseStatus = Ws.CloseStatus; break; }
                length += r.Count;
                if (!r.EndOfMessage) continue;
                FramesReceived++;
                Handle(buffer.AsSpan(0, length));
                length = 0;
            }
        }
        catch (WebSocketException) { }
        catch (OperationCanceledException) { }
        catch (ObjectDisposedException) { }
        finally
        {
            Closed = true;
            _connected.TrySetException(new InvalidOperationException($"socket of {User.Username} closed before 'connected' ({Ws.CloseStatus} {Ws.CloseStatusDescription})"));
            Window?.Release(1000);
        }
    }

    private void Handle(ReadOnlySpan<byte> frame)
    {
        var reader = new Utf8JsonReader(frame);
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) return;
        int kind = 0; // 1 chat_message, 2 ack, 3 error
        ReadOnlySpan<byte> message = default, cid = default;
        bool hasMessage = false, hasCid = false;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(TypeKey))
            {
                reader.Read();
                if (reader.ValueTextEquals("chat_message"u8)) kind = 1;
                else if (reader.ValueTextEquals("ack"u8)) kind = 2;
                else if (reader.ValueTextEquals("error"u8)) kind = 3;
                else if (reader.ValueTextEquals("connected"u8)) { _connected.TrySetResult(); return; }
                else return; // message_sent, presence, conversation_refresh, ...: not measured
            }
            else if (reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String) { message = reader.ValueSpan; hasMessage = true; }
            }
            else if (reader.ValueTextEquals("client_msg_id"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.String) { cid = reader.ValueSpan; hasCid = true; }
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
            if (kind == 1 && hasMessage) break;
            if (kind is 2 or 3 && hasCid) break;
        }

        var state = _state;
        if (state is null) return;
        var now = Stopwatch.GetTimestamp();
        switch (kind)
        {
            case 1 when hasMessage:
            {
                if (!TryParseTag(message, out var step, out var seq) || message.Length < 34 || !Utf8Parser.TryParse(message.Slice(14, 19), out long ticks, out _)) return;
                if (step != state.Step || seq >= state.Capacity) { Interlocked.Increment(ref state.Stale); return; }
                if (Interlocked.Exchange(ref state.DeliveredFlags[seq], 1) != 0) { Interlocked.Increment(ref state.Duplicates); return; }
                state.Delivery.RecordValue(Math.Max(1, RunState.Micros(now - ticks)));
                Interlocked.Increment(ref state.Delivered);
                state.LastDeliveryTicks = now;
                break;
            }
            case 2 when hasCid:
            {
                if (!TryParseTag(cid, out var step, out var seq) || step != state.Step || seq >= state.Capacity) { Interlocked.Increment(ref state.Stale); return; }
                if (Interlocked.Exchange(ref state.AckedFlags[seq], 1) != 0) { Interlocked.Increment(ref state.Duplicates); return; }
                state.AckLatency.RecordValue(Math.Max(1, RunState.Micros(now - state.SendTicks[seq])));
                Interlocked.Increment(ref state.Acked);
                state.LastAckTicks = now;
                Window?.Release();
                break;
            }
            case 3:
                Interlocked.Increment(ref state.Errors);
                if (Interlocked.Read(ref state.Errors) <= 5) Console.Error.WriteLine($"error frame on {User.Username}: {Encoding.UTF8.GetString(frame)}");
                Window?.Release();
                break;
        }
    }

    private static bool TryParseTag(ReadOnlySpan<byte> s, out int step, out long seq)
    {
        step = 0; seq = 0;
        return s.Length >= RunState.CidLength && s[2] == (byte)':'
            && Utf8Parser.TryParse(s[..2], out step, out _)
            && Utf8Parser.TryParse(s.Slice(3, 10), out seq, out _);
    }

    // ---- sending ----

    /// <summary>Per-receiver prefix: <c>{"type":"send_message","receiver":"NAME","client_msg_id":"</c>.</summary>
    public static byte[][] BuildPrefixes(IReadOnlyList<BenchUser> users) =>
        users.Select(u => Encoding.UTF8.GetBytes($"{{\"type\":\"send_message\",\"receiver\":\"{u.Username}\",\"client_msg_id\":\"")).ToArray();

    private int WriteFrame(byte[] prefix, int step, long seq, long ticks)
    {
        var b = _sendBuffer.AsSpan();
        prefix.CopyTo(b);
        var p = prefix.Length;
        var tagStart = p;
        WriteDigits(b.Slice(p, 2), step); b[p + 2] = (byte)':';
        WriteDigits(b.Slice(p + 3, 10), seq);
        p += RunState.CidLength;
        "\",\"message\":\""u8.CopyTo(b[p..]); p += 13;
        b.Slice(tagStart, RunState.CidLength).CopyTo(b[p..]);
        b[p + 13] = (byte)':';
        WriteDigits(b.Slice(p + 14, 19), ticks);
        b[p + 33] = (byte)':';
        b.Slice(p + 34, RunState.BodyLength - 34).Fill((byte)'x');
        p += RunState.BodyLength;
        b[p++] = (byte)'"'; b[p++] = (byte)'}';
        return p;
    }

    private static void WriteDigits(Span<byte> dest, long value)
    {
        for (var i = dest.Length - 1; i >= 0; i--) { dest[i] = (byte)('0' + value % 10); value /= 10; }
    }

    /// <summary>Open loop: sends what the scheduler queues, in order, one at a time.</summary>
    public Task StartOpenLoopSender(byte[][] prefixes)
    {
        Outbox = Channel.CreateUnbounded<SendItem>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });
        return Task.Run(async () =>
        {
            var reader = Outbox.Reader;
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var item))
                {
                    var state = _state;
                    if (state is null || Closed) continue;
                    var n = WriteFrame(prefixes[item.Receiver], state.Step, item.Seq, item.Ticks);
                    try { await Ws.SendAsync(_sendBuffer.AsMemory(0, n), WebSocketMessageType.Text, true, CancellationToken.None); }
                    catch (Exception e) when (e is WebSocketException or ObjectDisposedException or IOException) { Closed = true; continue; }
                    Interlocked.Increment(ref state.Sent);
                }
            }
        });
    }

    /// <summary>Closed loop: keeps <paramref name="window"/> sends unacknowledged until the state stops.</summary>
    public Task StartClosedLoopSender(byte[][] prefixes, int userCount, int window, int seed)
    {
        Window = new SemaphoreSlim(window);
        return Task.Run(async () =>
        {
            var rng = new Random(seed);
            while (true)
            {
                await Window.WaitAsync();
                var state = _state;
                if (state is null || state.Stopping || Closed) return;
                var seq = Interlocked.Increment(ref state.NextSeq) - 1;
                if (seq >= state.Capacity) { state.Stopping = true; return; }
                var r = rng.Next(userCount - 1);
                if (r >= User.Index) r++;
                var now = Stopwatch.GetTimestamp();
                state.SendTicks[seq] = now;
                var n = WriteFrame(prefixes[r], state.Step, seq, now);
                try { await Ws.SendAsync(_sendBuffer.AsMemory(0, n), WebSocketMessageType.Text, true, CancellationToken.None); }
                catch (Exception e) when (e is WebSocketException or ObjectDisposedException or IOException) { Closed = true; return; }
                Interlocked.Increment(ref state.Sent);
            }
        });
    }

    public async Task CloseAsync()
    {
        Outbox?.Writer.TryComplete();
        try
        {
            if (Ws.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                await Ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, cts.Token);
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException or IOException) { }
        Ws.Abort();
        Ws.Dispose();
    }

    /// <summary>Connects every user's sockets, <paramref name="concurrency"/> handshakes at a time.</summary>
    public static async Task<(Conn[] Conns, double Seconds, int Failures, string? FirstError)> ConnectManyAsync(
        IReadOnlyList<BenchUser> users, int socketsPerUser, Uri wsUri, int concurrency, int receiveBufferSize = 4096, bool quiet = false)
    {
        var total = users.Count * socketsPerUser;
        var conns = new Conn[total];
        for (var i = 0; i < total; i++) conns[i] = new Conn(users[i % users.Count], receiveBufferSize);
        var next = -1;
        var failures = 0;
        string? firstError = null;
        var sw = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, Math.Max(1, concurrency)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                try
                {
                    using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                    await conns[i].ConnectAsync(wsUri, cts.Token);
                }
                catch (Exception e) when (e is WebSocketException or OperationCanceledException or InvalidOperationException or IOException or HttpRequestException)
                {
                    if (Interlocked.Increment(ref failures) == 1) firstError = e.GetBaseException().Message;
                }
                if (!quiet && (i + 1) % 2000 == 0) Console.WriteLine($"  connected {i + 1}/{total}");
            }
        }));
        return (conns, sw.Elapsed.TotalSeconds, failures, firstError);
    }
}

public static class HttpExtensions
{
    public static HttpRequestMessage Get(string path, string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return request;
    }
}
