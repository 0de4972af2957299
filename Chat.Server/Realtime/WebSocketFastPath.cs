using System.Buffers;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Chat.Server.Auth;
using Chat.Server.Hosting;
using Chat.Server.Storage;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;

namespace Chat.Server.Realtime;

/// <summary>
/// Kestrel connection middleware that takes a plain, well-formed, authenticated <c>GET /ws</c> upgrade
/// straight off the connection, before the HTTP pipeline. Through the pipeline an upgraded socket keeps
/// its whole request alive for its lifetime (HTTP/1 connection state, headers, HttpContext, middleware
/// frames, auth results, activity): about 12 KiB of a 19 KiB idle socket, measured with dotnet-gcdump.
/// Anything else (another path, a partial or unusual head, a bad token, an origin not allowed) is handed on untouched, so the
/// pipeline answers it exactly as before, 400 and 401 problem details included.
/// Until it upgrades, a connection is under Kestrel's timeouts as on any other path: one that sends nothing for
/// <paramref name="keepAliveTimeout"/> (<c>Kestrel:Limits:KeepAliveTimeout</c>) is closed here, one that starts a head
/// goes to the pipeline and its <c>RequestHeadersTimeout</c>. After the session, the close frame it wrote reaches the
/// peer before TCP closes (RFC 6455 section 5.5.1): the output is completed and flushed, and the connection is aborted
/// only when the peer has not taken it within <see cref="ChatOptions.CloseTimeout"/>.
/// </summary>
public sealed partial class WebSocketFastPath(
    ConnectionDelegate next,
    TokenService tokens,
    IUserStore users,
    ChatSession chatSession,
    CrossOrigin origins,
    IOptions<ChatOptions> options,
    ILogger<WebSocketFastPath> logger,
    TimeProvider clock,
    TimeSpan keepAliveTimeout)
{
    private const int MaxHead = 8 * 1024;
    private static ReadOnlySpan<byte> HeadEnd => "\r\n\r\n"u8;

    public async Task OnConnectionAsync(ConnectionContext connection)
    {
        // This frame lives as long as the socket, so it keeps only what the session needs; the parsing
        // and authentication state lives (and dies) in TryUpgradeAsync.
        Upgraded? upgraded;
        try { upgraded = await TryUpgradeAsync(connection); }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException)
        {
            // The peer went away, or sent nothing for the keep-alive timeout: returning closes the connection.
            LogDropped(logger, e.GetType().Name);
            return;
        }
        if (upgraded is not { } session)
        {
            await next(connection);
            return;
        }
        try
        {
            using var socket = session.Socket;
            await chatSession.RunAsync(socket, session.UserId, session.Username, session.TokenId, session.ExpiresAt, connection.ConnectionClosed);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException or WebSocketException)
        {
            // The peer went away; the session has already unregistered the socket.
            LogDropped(logger, e.GetType().Name);
        }
        await CloseTransportAsync(connection);
    }

    /// <summary>Lets what the socket wrote last (its close frame) reach the peer, then closes TCP; aborts a peer that does not read.</summary>
    private async Task CloseTransportAsync(ConnectionContext connection)
    {
        try { await connection.Transport.Output.CompleteAsync(); }
        catch (Exception e) when (e is InvalidOperationException or IOException) { /* already completed */ }
        try { await Task.Delay(options.Value.CloseTimeout, clock, connection.ConnectionClosed); }
        catch (OperationCanceledException) { return; /* closed: everything was sent */ }
        connection.Abort();
    }

    private readonly record struct Upgraded(WebSocket Socket, long UserId, string Username, long TokenId, long ExpiresAt);

    /// <summary>Answers 101 and returns the socket, or leaves the connection untouched (nothing consumed) and returns null.</summary>
    private async Task<Upgraded?> TryUpgradeAsync(ConnectionContext connection)
    {
        var input = connection.Transport.Input;
        // Kestrel's keep-alive timeout, which the pipeline would apply to a connection that sends nothing: an
        // OperationCanceledException from here ends the connection.
        using var silent = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed);
        silent.CancelAfter(keepAliveTimeout);
        var read = await input.ReadAsync(silent.Token);

        // Only what the first read brought is looked at: a head split across reads goes to the pipeline.
        var buffer = read.Buffer;
        (UserRow, TokenRow, string)? upgrade = null;
        if (TryParse(buffer, out var headLength) is { } request)
        {
            // A failing store is for the pipeline to report (as problem details), not for this shortcut.
            try { upgrade = await AuthenticateAsync(request, connection.ConnectionClosed); }
            catch (Exception e) when (e is not OperationCanceledException) { LogAuthFailed(logger, e); }
        }
        if (upgrade is not { } accepted)
        {
            input.AdvanceTo(buffer.Start);
            return null;
        }
        var (user, token, key) = accepted;

        input.AdvanceTo(buffer.GetPosition(headLength));
        await connection.Transport.Output.WriteAsync(Encoding.ASCII.GetBytes(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: " + AcceptKey(key) + "\r\n\r\n"),
            connection.ConnectionClosed);
        var o = options.Value;
        var socket = WebSocket.CreateFromStream(new DuplexPipeStream(connection.Transport), new WebSocketCreationOptions
        {
            IsServer = true,
            KeepAliveInterval = o.KeepAliveInterval,
            KeepAliveTimeout = o.KeepAliveTimeout,
        });
        return new Upgraded(socket, user.Id, user.Username, token.Id, token.ExpiresAt);
    }

    private async Task<(UserRow User, TokenRow Token, string Key)?> AuthenticateAsync(Request request, CancellationToken ct)
    {
        if (request.Token is not { } token || !origins.IsAllowed(request.Origin, request.Host)) return null;
        var row = await tokens.ResolveAsync(token, ct);
        if (row is null) return null;
        var user = await users.FindByIdAsync(row.UserId, ct);
        return user is null ? null : (user, row, request.Key);
    }

    private readonly record struct Request(string Key, string? Token, string Host, string? Origin);

    /// <summary>The upgrade request, when the head is complete, strictly formed and asks for exactly what we serve.</summary>
    private static Request? TryParse(ReadOnlySequence<byte> buffer, out int headLength)
    {
        headLength = 0;
        var reader = new SequenceReader<byte>(buffer.Length > MaxHead ? buffer.Slice(0, MaxHead) : buffer);
        if (!reader.TryReadTo(out ReadOnlySequence<byte> headBytes, HeadEnd)) return null;
        headLength = (int)reader.Consumed;
        var head = Encoding.Latin1.GetString(headBytes);
        var lines = head.Split("\r\n");

        var requestLine = lines[0].Split(' ');
        if (requestLine is not ["GET", var target, "HTTP/1.1"]) return null;
        var queryAt = target.IndexOf('?');
        if ((queryAt < 0 ? target : target[..queryAt]) != "/ws") return null;

        string? host = null, upgrade = null, connectionHeader = null, version = null, key = null, authorization = null, origin = null;
        for (var i = 1; i < lines.Length; i++)
        {
            var colon = lines[i].IndexOf(':');
            // No obsolete line folding, no empty names, no control characters: the pipeline judges those.
            if (colon <= 0 || lines[i][0] is ' ' or '\t' || lines[i].Any(c => c < 0x20 && c != '\t' || c == 0x7f)) return null;
            var name = lines[i][..colon];
            var value = lines[i][(colon + 1)..].Trim(' ', '\t');
            switch (name.ToLowerInvariant())
            {
                case "host": if (host is not null) return null; host = value; break;
                case "upgrade": if (upgrade is not null) return null; upgrade = value; break;
                case "connection": if (connectionHeader is not null) return null; connectionHeader = value; break;
                case "sec-websocket-version": if (version is not null) return null; version = value; break;
                case "sec-websocket-key": if (key is not null) return null; key = value; break;
                case "authorization": if (authorization is not null) return null; authorization = value; break;
                case "origin": if (origin is not null) return null; origin = value; break;
                case "content-length" or "transfer-encoding": return null;
            }
        }
        if (host is null || version != "13" || key is null || !IsValidKey(key)
            || !HasToken(upgrade, "websocket") || !HasToken(connectionHeader, "upgrade"))
            return null;

        var token = TokenAuthenticationHandler.ChooseToken(authorization,
            () => queryAt >= 0 && QueryHelpers.ParseQuery(target[queryAt..]).TryGetValue("token", out var values) ? values.ToString() : null);
        return new Request(key, token, host, origin);
    }

    private static bool HasToken(string? header, string token) =>
        header is not null && header.Split(',').Any(part => part.Trim().Equals(token, StringComparison.OrdinalIgnoreCase));

    private static bool IsValidKey(string key)
    {
        Span<byte> decoded = stackalloc byte[24];
        return Convert.TryFromBase64String(key, decoded, out var length) && length == 16;
    }

    private static string AcceptKey(string key) =>
        Convert.ToBase64String(SHA1.HashData(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Fast-path authentication failed; the request goes to the HTTP pipeline")]
    private static partial void LogAuthFailed(ILogger logger, Exception e);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Fast-path socket dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string reason);
}
