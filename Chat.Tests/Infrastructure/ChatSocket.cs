using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// A test client that speaks the protocol: a background loop reads every frame into a queue; every wait
/// has a timeout naming what was awaited, so a missing frame fails fast instead of hanging.
/// </summary>
public sealed class ChatSocket : IAsyncDisposable
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    private readonly Channel<JsonObject> _frames = Channel.CreateUnbounded<JsonObject>();
    private readonly TaskCompletionSource<WebSocketCloseStatus?> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _reader;

    public ChatSocket(WebSocket socket)
    {
        Socket = socket;
        _reader = Task.Run(ReadLoopAsync);
    }

    public WebSocket Socket { get; }

    /// <summary>Every frame received so far, in order (also those already taken by Next).</summary>
    public List<JsonObject> History { get; } = [];

    /// <summary>Completes with the close status the server sent, or null when the connection dropped without one.</summary>
    public Task<WebSocketCloseStatus?> Closed => _closed.Task;

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    if (count == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2);
                    result = await Socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
                    count += result.Count;
                } while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closed.TrySetResult(Socket.CloseStatus);
                    if (Socket.State == WebSocketState.CloseReceived)
                        await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None);
                    break;
                }
                var frame = JsonNode.Parse(Encoding.UTF8.GetString(buffer, 0, count))!.AsObject();
                lock (History) History.Add(frame);
                await _frames.Writer.WriteAsync(frame);
            }
        }
        catch (Exception)
        {
            _closed.TrySetResult(Socket.CloseStatus);
        }
        finally
        {
            _frames.Writer.TryComplete();
        }
    }

    public async Task<JsonObject> NextAsync(TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        try
        {
            return await _frames.Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"No frame arrived within {(timeout ?? DefaultTimeout).TotalSeconds}s.");
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"The socket closed ({Socket.CloseStatus}) while a frame was expected.");
        }
    }

    /// <summary>Next frame, asserting its type.</summary>
    public async Task<JsonObject> ExpectAsync(string type, TimeSpan? timeout = null)
    {
        var frame = await NextAsync(timeout);
        Assert.That(frame["type"]?.GetValue<string>(), Is.EqualTo(type), $"expected a '{type}' frame, got {frame.ToJsonString()}");
        return frame;
    }

    /// <summary>Skips frames until one of <paramref name="type"/> arrives (for frames whose order against others is not specified).</summary>
    public async Task<JsonObject> WaitForAsync(string type, TimeSpan? timeout = null, Func<JsonObject, bool>? match = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? DefaultTimeout);
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero) throw new TimeoutException($"No '{type}' frame arrived in time.");
            var frame = await NextAsync(left);
            if (frame["type"]?.GetValue<string>() == type && (match is null || match(frame))) return frame;
        }
    }

    /// <summary>Asserts nothing arrives for <paramref name="within"/> (used after a ping round trip, so it is not a timing guess).</summary>
    public async Task<JsonObject?> TryNextAsync(TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        try
        {
            return await _frames.Reader.ReadAsync(cts.Token);
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException)
        {
            return null;
        }
    }

    /// <summary>
    /// Sends a ping and collects every frame up to its pong. Frames queued before the pong are all in the
    /// list, so "no such frame was sent" can be asserted without sleeping.
    /// </summary>
    public async Task<List<JsonObject>> DrainAsync()
    {
        await SendAsync(new JsonObject { ["type"] = "ping" });
        var frames = new List<JsonObject>();
        while (true)
        {
            var frame = await NextAsync();
            if (frame["type"]?.GetValue<string>() == "pong") return frames;
            frames.Add(frame);
        }
    }

    public Task SendAsync(JsonObject frame) => SendTextAsync(frame.ToJsonString());

    public Task SendTextAsync(string text) => SendRawAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text);

    public async Task SendRawAsync(byte[] bytes, WebSocketMessageType type)
    {
        await Socket.SendAsync(bytes, type, true, CancellationToken.None).WaitAsync(DefaultTimeout);
    }

    public async Task<WebSocketCloseStatus?> WaitClosedAsync(TimeSpan? timeout = null)
    {
        try
        {
            return await Closed.WaitAsync(timeout ?? DefaultTimeout);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"The server did not close the socket within {(timeout ?? DefaultTimeout).TotalSeconds}s.");
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (Socket.State == WebSocketState.Open)
            {
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", cts.Token);
                await _reader.WaitAsync(TimeSpan.FromSeconds(2));
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
