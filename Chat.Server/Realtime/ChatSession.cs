using System.Net.WebSockets;
using Chat.Protocol;
using Chat.Protocol.Frames;
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
    PresenceNotifier presence,
    IMessageStore store,
    IOptions<ChatOptions> options,
    ILogger<ChatConnection> logger)
{
    public async Task RunAsync(WebSocket socket, UserRow user, long tokenId, DateTimeOffset tokenExpires, CancellationToken aborted)
    {
        var o = options.Value;
        if (registry.SocketsOf(user.Id).Count >= o.MaxSocketsPerUser)
        {
            // The new socket is refused, not an old one: a reconnect loop must not knock out live devices.
            LogTooManySockets(logger, user.Username, o.MaxSocketsPerUser);
            using var timeout = new CancellationTokenSource(o.CloseTimeout);
            try { await socket.CloseAsync((WebSocketCloseStatus)CloseCodes.TryAgainLater, "too many sockets", timeout.Token); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException) { socket.Abort(); }
            return;
        }
        // A socket lives no longer than the token it was opened with (TokenExpiryWatcher closes it then).
        var connection = new ChatConnection(socket, user.Id, user.Username, tokenId, o, logger) { TokenExpiresAt = tokenExpires.ToUnixTimeSeconds() };
        if (tokenExpires <= DateTimeOffset.UtcNow) connection.Close(CloseCodes.PolicyViolation, "token expired", drain: false);

        // Register first, then read last_message_id: a message committed in between is both counted and
        // queued, never missed. Frames queued meanwhile wait behind the preamble (connected, presence).
        var first = registry.Add(connection);
        if (registry.IsShuttingDown) connection.Close(CloseCodes.GoingAway, "server shutting down", drain: true);
        LogConnected(logger, user.Username, registry.Count);
        try
        {
            if (first) _ = presence.AnnounceAsync(user.Id, user.Username);
            await connection.RunAsync(BuildPreambleAsync(user, aborted), handler.HandleAsync, aborted);
        }
        finally
        {
            if (registry.Remove(connection)) _ = presence.AnnounceAsync(user.Id, user.Username);
            LogDisconnected(logger, user.Username, registry.Count);
        }
    }

    private async Task<IReadOnlyList<OutboundFrame>> BuildPreambleAsync(UserRow user, CancellationToken ct)
    {
        var lastMessageId = await store.LastMessageIdAsync(user.Id, ct);
        var frames = new List<OutboundFrame> { OutboundFrame.Of(new ConnectedFrame(user.Username, lastMessageId), ChatJsonContext.Default.ConnectedFrame) };
        frames.AddRange(await presence.SnapshotAsync(user.Id, ct));
        return frames;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a socket of {Username}: already {Max} open")]
    private static partial void LogTooManySockets(ILogger logger, string username, int max);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket opened for {Username}; {Count} open")]
    private static partial void LogConnected(ILogger logger, string username, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket closed for {Username}; {Count} open")]
    private static partial void LogDisconnected(ILogger logger, string username, int count);
}
