using System.Net.WebSockets;
using Chat.Protocol;
using Chat.Protocol.Frames;
using Chat.Server.Observability;
using Chat.Server.Storage;
using Microsoft.Extensions.Options;

namespace Chat.Server.Realtime;

/// <summary>
/// One authenticated WebSocket from the upgrade to its close: the socket cap, registration, the preamble
/// (<c>connected</c>, presence snapshot), the token-expiry close and the frame loop. Shared by the
/// <c>/ws</c> endpoint and the connection-level <see cref="WebSocketFastPath"/>, so both behave the same.
/// </summary>
public sealed partial class ChatSession(
    ConnectionRegistry registry,
    ClientFrameHandler handler,
    IPresence presence,
    IMessageStore store,
    OutboundBudget budget,
    TimeProvider clock,
    IOptions<ChatOptions> options,
    ChatMetrics metrics,
    ILogger<ChatConnection> logger)
{
    /// <remarks>Takes the id and username only: the whole user row need not live as long as the socket.</remarks>
    public async Task RunAsync(WebSocket socket, long userId, string username, long tokenId, long tokenExpiresAt, CancellationToken aborted)
    {
        var o = options.Value;
        // A socket lives no longer than the token it was opened with (ConnectionSweeper closes it then).
        var connection = new ChatConnection(socket, userId, username, tokenId, o, logger, budget, clock, metrics) { TokenExpiresAt = tokenExpiresAt };

        // Register first, then read last_message_id: a message committed in between is both counted and
        // queued, never missed. Frames queued meanwhile wait behind the preamble (connected, presence).
        if (!registry.TryAdd(connection, o.MaxSocketsPerUser, out var first))
        {
            // The new socket is refused, not an old one: a reconnect loop must not knock out live devices.
            Log.SocketRefused(logger, username, o.MaxSocketsPerUser);
            metrics.SocketClosed(SocketCloseReason.Limit);
            using var timeout = new CancellationTokenSource(o.CloseTimeout);
            try { await socket.CloseAsync((WebSocketCloseStatus)CloseCodes.TryAgainLater, "too many sockets", timeout.Token); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException) { socket.Abort(); }
            return;
        }
        if (tokenExpiresAt <= clock.GetUtcNow().ToUnixTimeSeconds()) connection.Close(CloseCodes.PolicyViolation, "token expired", drain: false, SocketCloseReason.Expiry);
        if (registry.IsShuttingDown) connection.Close(CloseCodes.GoingAway, "server shutting down", drain: true, SocketCloseReason.Shutdown);
        metrics.SocketOpened();
        Log.SocketOpened(logger, username, registry.Count);
        try
        {
            if (first) _ = presence.AnnounceAsync(userId, username);
            await connection.RunAsync(BuildPreambleAsync(userId, username, aborted), handler.HandleAsync, aborted);
        }
        finally
        {
            if (registry.Remove(connection)) _ = presence.AnnounceAsync(userId, username);
            metrics.SocketClosed(connection.CloseReason);
            Log.SocketClosed(logger, username, connection.CloseCode, connection.CloseReason.Tag(), registry.Count);
        }
    }

    private async Task<IReadOnlyList<OutboundFrame>> BuildPreambleAsync(long userId, string username, CancellationToken ct)
    {
        var lastMessageId = await store.LastMessageIdAsync(userId, ct);
        var frames = new List<OutboundFrame> { OutboundFrame.Of(new ConnectedFrame(username, lastMessageId), ChatJson.Wire.ConnectedFrame) };
        frames.AddRange(await presence.SnapshotAsync(userId, ct));
        return frames;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = ChatEventIds.SocketRefused, EventName = "SocketRefused", Level = LogLevel.Warning,
            Message = "Refused a socket of {Username} with 1013: already {Max} open")]
        public static partial void SocketRefused(ILogger logger, string username, int max);

        [LoggerMessage(EventId = ChatEventIds.SocketOpened, EventName = "SocketOpened", Level = LogLevel.Information,
            Message = "Socket opened for {Username}; {OpenSockets} open")]
        public static partial void SocketOpened(ILogger logger, string username, int openSockets);

        [LoggerMessage(EventId = ChatEventIds.SocketClosed, EventName = "SocketClosed", Level = LogLevel.Information,
            Message = "Socket closed for {Username} with {CloseCode} ({Reason}); {OpenSockets} open")]
        public static partial void SocketClosed(ILogger logger, string username, int closeCode, string reason, int openSockets);
    }
}
