using System.Buffers;
using System.Net.WebSockets;
using System.Text.Unicode;
using Chat.Protocol;

namespace Chat.Server.Realtime;

/// <summary>
/// One open socket. Producers only enqueue (<see cref="Send"/> never blocks); a single writer loop is the
/// only caller of <c>SendAsync</c>; a receive loop reads frames. A socket whose queue overflows is closed
/// with 1008 from its own writer, so the producer (another user's send) never waits for it.
/// </summary>
public sealed partial class ChatConnection
{
    private const int InitialReceiveBuffer = 4 * 1024;

    private readonly WebSocket _socket;
    private readonly FrameQueue _queue;
    private readonly int _queueLimit;
    private readonly int _maxFrameBytes;
    private readonly TimeSpan _closeTimeout;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _inFlight;
    private readonly int _maxInFlight;
    private int _closeStatus;
    private string _closeReason = "";
    private volatile bool _discardQueue;
    private volatile bool _acceptingSends = true;
    private volatile bool _receiveRefused;
    private readonly TaskCompletionSource _closeRequested = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ChatConnection(WebSocket socket, long userId, string username, long tokenId, ChatOptions options, ILogger logger)
    {
        _socket = socket;
        UserId = userId;
        Username = username;
        TokenId = tokenId;
        _queueLimit = options.SendQueueLimit;
        _maxFrameBytes = options.MaxFrameBytes;
        _closeTimeout = options.CloseTimeout;
        _maxInFlight = options.MaxInFlightSendsPerSocket;
        _inFlight = new SemaphoreSlim(_maxInFlight, _maxInFlight);
        _logger = logger;
        // Full makes TryWrite return false, which is the "too slow" signal.
        _queue = new FrameQueue(_queueLimit);
    }

    public long UserId { get; }
    public string Username { get; }
    public long TokenId { get; }

    /// <summary>When the token this socket was opened with expires (Unix seconds); <see cref="TokenExpiryWatcher"/> closes it then.</summary>
    public long TokenExpiresAt { get; init; } = long.MaxValue;
    public bool IsClosing => Volatile.Read(ref _closeStatus) != 0;

    /// <summary>False once the server is shutting this socket down: new sends are no longer taken.</summary>
    public bool AcceptingSends => _acceptingSends && !IsClosing;

    public int QueuedFrames => _queue.Count;

    /// <summary>Queues a frame without waiting. A full queue closes the socket (1008).</summary>
    public bool Send(OutboundFrame frame)
    {
        if (IsClosing) return false;
        // Past half full, shed what the client can live without; stored messages are never shed.
        if (frame.Ephemeral && _queue.Count >= _queueLimit / 2) return false;
        if (_queue.TryWrite(frame)) return true;
        LogTooSlow(_logger, Username, _queueLimit);
        Close(CloseCodes.PolicyViolation, "send queue overflow", drain: false);
        return false;
    }

    /// <summary>
    /// Queues a reply to this socket's own request (sync replay), waiting while the queue is past half
    /// full so a large replay cannot starve live frames into an overflow.
    /// </summary>
    public async ValueTask<bool> SendReplyAsync(OutboundFrame frame, CancellationToken ct)
    {
        while (!IsClosing && _queue.Count >= _queueLimit / 2)
            await Task.Delay(5, ct);
        return Send(frame);
    }

    /// <summary>Starts closing. With <paramref name="drain"/> the frames already queued go out first.</summary>
    public void Close(int status, string reason, bool drain)
    {
        if (Interlocked.CompareExchange(ref _closeStatus, status, 0) != 0) return;
        _closeReason = reason;
        if (!drain) _discardQueue = true;
        _queue.Complete();
        _closeRequested.TrySetResult();
    }

    /// <summary>Graceful shutdown: stop taking sends, let those in flight be acknowledged, then close after the queue drains.</summary>
    public async Task CloseGracefullyAsync(int status, string reason, TimeSpan timeout)
    {
        _acceptingSends = false;
        var deadline = DateTime.UtcNow + timeout;
        while (_inFlight.CurrentCount < _maxInFlight && DateTime.UtcNow < deadline)
            await Task.Delay(10);
        Close(status, reason, drain: true);
    }

    /// <summary>Waits for room to start one more concurrent send; the receive loop stops reading meanwhile (backpressure).</summary>
    public Task BeginSendAsync(CancellationToken ct) => _inFlight.WaitAsync(ct);

    public void EndSend() => _inFlight.Release();

    /// <summary>Runs both loops until the socket is closed; <paramref name="preamble"/> frames go out before anything queued.</summary>
    public async Task RunAsync(Task<IReadOnlyList<OutboundFrame>> preamble, Func<ChatConnection, ReadOnlyMemory<byte>, ValueTask> onFrame, CancellationToken aborted)
    {
        var writer = WriteLoopAsync(preamble);
        // Not kept for the socket's lifetime: an idle socket should hold nothing it no longer needs.
        preamble = null!;
        var reader = ReceiveLoopAsync(onFrame, aborted);
        // A close requested from outside (queue overflow, logout, token expiry, shutdown) counts as an end too:
        // a peer that neither reads nor sends would otherwise keep both loops (and the socket) forever.
        var first = await Task.WhenAny(reader, writer, _closeRequested.Task);
        if (first == reader)
        {
            // The peer closed (or the read failed): nothing more to send; answer its close.
            Close(1000, "", drain: false);
        }
        // What is left gets the close timeout, then the socket is aborted (SignalR does the same).
        var both = Task.WhenAll(reader, writer);
        if (await Task.WhenAny(both, Task.Delay(_closeTimeout, CancellationToken.None)) != both)
            _socket.Abort();
        try { await both; } catch { /* both loops log their own faults */ }

        // A receive the framework refused itself (over Kestrel: a text message that is not UTF-8) has sent its
        // close frame (1007) and aborted the socket. Returning now lets the host tear the connection down before
        // that frame reaches the peer, which then sees a reset instead of 1007: give the peer the close timeout
        // to read it and hang up.
        if (_receiveRefused && !aborted.IsCancellationRequested)
        {
            try { await Task.Delay(_closeTimeout, aborted); }
            catch (OperationCanceledException) { /* the peer hung up */ }
        }
    }

    private async Task WriteLoopAsync(Task<IReadOnlyList<OutboundFrame>> preamble)
    {
        try
        {
            var first = await preamble;
            preamble = null!;
            foreach (var frame in first)
                await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, true, CancellationToken.None);
            first = null!;

            while (await _queue.WaitToReadAsync())
            {
                while (!_discardQueue && _queue.TryRead(out var frame))
                    await _socket.SendAsync(frame.Payload, WebSocketMessageType.Text, true, CancellationToken.None);
                if (_discardQueue) break;
            }

            var status = Volatile.Read(ref _closeStatus);
            if (status != 0 && _socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                using var timeout = new CancellationTokenSource(_closeTimeout);
                await _socket.CloseOutputAsync((WebSocketCloseStatus)status, _closeReason, timeout.Token);
            }
        }
        catch (Exception e)
        {
            // Includes a failed preamble (database down): the socket cannot be served, so drop it.
            LogSendEnded(_logger, e.GetType().Name);
            _socket.Abort();
        }
        finally
        {
            Close(1000, "", drain: false);
        }
    }

    private async Task ReceiveLoopAsync(Func<ChatConnection, ReadOnlyMemory<byte>, ValueTask> onFrame, CancellationToken aborted)
    {
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                // Idle sockets wait with a zero-byte read, so they hold no receive buffer (as Kestrel and
                // SignalR do); a buffer is rented only once a message starts arriving.
                var peek = await _socket.ReceiveAsync(Memory<byte>.Empty, aborted);
                if (peek.MessageType == WebSocketMessageType.Close) return;

                buffer = ArrayPool<byte>.Shared.Rent(InitialReceiveBuffer);
                var count = 0;
                var result = peek;
                while (!result.EndOfMessage)
                {
                    if (count == buffer.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, _maxFrameBytes + 1));
                        buffer.AsSpan(0, count).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), aborted);
                    if (result.MessageType == WebSocketMessageType.Close) return;
                    // Past the limit, the rest of the message is read and dropped: the socket is closing anyway.
                    count = Math.Min(count + result.Count, _maxFrameBytes + 1);
                }

                var message = buffer.AsMemory(0, count);
                if (IsClosing)
                {
                    // We already sent our close; read on only to see the peer's.
                }
                else if (result.MessageType == WebSocketMessageType.Binary)
                {
                    Close(CloseCodes.UnsupportedData, "binary messages are not supported", drain: false);
                }
                else if (count > _maxFrameBytes)
                {
                    Close(CloseCodes.MessageTooBig, "message too big", drain: false);
                }
                else if (!Utf8.IsValid(message.Span))
                {
                    Close(CloseCodes.InvalidPayload, "invalid UTF-8", drain: false);
                }
                else
                {
                    await onFrame(this, message);
                }
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (Exception e) when (e is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Not a peer that vanished and not our own abort: the framework refused what the peer sent.
            _receiveRefused = e is WebSocketException { WebSocketErrorCode: not WebSocketError.ConnectionClosedPrematurely }
                && !IsClosing && !aborted.IsCancellationRequested;
            LogReceiveEnded(_logger, e.GetType().Name);
        }
        finally
        {
            if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Closing a socket of {Username}: its send queue passed {Limit} frames")]
    private static partial void LogTooSlow(ILogger logger, string username, int limit);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Send loop ended: {Reason}")]
    private static partial void LogSendEnded(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Receive loop ended: {Reason}")]
    private static partial void LogReceiveEnded(ILogger logger, string reason);
}
