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
    IPresence presence,
    IMessageStore store,
    OutboundBudget budget,
    TimeProvider clock,
    IOptions<ChatOptions> options,
    ILogger<ChatConnection> logger)
{
    /// <remarks>Takes the id and username only: the whole user row need not live as long as the socket.</remarks>
    public async Task RunAsync(WebSocket socket, long userId, string username, long tokenId, long tokenExpiresAt, CancellationToken aborted)
    {
        var o = options.Value;
        // A socket lives no longer than the token it was opened with (ConnectionSweeper closes it then).
        var connection = new ChatConnection(socket, userId, username, tokenId, o, logger, budget, clock) { TokenExpiresAt = tokenExpiresAt };

        // Register first, then read last_message_id: a message committed in between is both counted and
        // queued, never missed. Frames queued meanwhile wait behind the preamble (connected, presence).
        if (!registry.TryAdd(connection, o.MaxSocketsPerUser, out var first))
        {
            // The new socket is refused, not an old one: a reconnect loop must not knock out live devices.
            LogTooManySockets(logger, username, o.MaxSocketsPerUser);
            using var timeout = new CancellationTokenSource(o.CloseTimeout);
            try { await socket.CloseAsync((WebSocketCloseStatus)CloseCodes.TryAgainLater, "too many sockets", timeout.Token); }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException or IOException) { socket.Abort(); }
            return;
        }
        if (tokenExpiresAt <= clock.GetUtcNow().ToUnixTimeSeconds()) connection.Close(CloseCodes.PolicyViolation, "token expired", drain: false);
        if (registry.IsShuttingDown) connection.Close(CloseCodes.GoingAway, "server shutting down", drain: true);
        LogConnected(logger, username, registry.Count);
        try
        {
            if (first) _ = presence.AnnounceAsync(userId, username);
            await connection.RunAsync(BuildPreambleAsync(userId, username, aborted), handler.HandleAsync, aborted);
        }
        finally
        {
            if (registry.Remove(connection)) _ = presence.AnnounceAsync(userId, username);
            LogDisconnected(logger, username, registry.Count);
        }
    }

    private async Task<IReadOnlyList<OutboundFrame>> BuildPreambleAsync(long userId, string username, CancellationToken ct)
    {
        var lastMessageId = await store.LastMessageIdAsync(userId, ct);
        var frames = new List<OutboundFrame> { OutboundFrame.Of(new ConnectedFrame(username, lastMessageId), ChatJson.Wire.ConnectedFrame) };
        frames.AddRange(await presence.SnapshotAsync(userId, ct));
        return frames;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused a socket of {Username}: already {Max} open")]
    private static partial void LogTooManySockets(ILogger logger, string username, int max);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket opened for {Username}; {Count} open")]
    private static partial void LogConnected(ILogger logger, string username, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Socket closed for {Username}; {Count} open")]
    private static partial void LogDisconnected(ILogger logger, string username, int count);
}
