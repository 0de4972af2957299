namespace Chat.Server.Observability;

/// <summary>
/// The stable ids of the server's structured log events, in one place, so operators can alert on them (the JSON console
/// formatter writes them as <c>EventId</c> and the name as <c>EventName</c>). Ranges: 1000 lifecycle, 1100 logins,
/// 1200 sockets, 1300 sends. An id is never reused for another event.
/// </summary>
public static class ChatEventIds
{
    /// <summary><c>ServerStarted</c>: addresses, store, cluster or not, where metrics are served.</summary>
    public const int ServerStarted = 1000;
    /// <summary><c>ServerStopping</c>: shutdown began (SIGTERM), with the sockets still open.</summary>
    public const int ServerStopping = 1001;
    /// <summary><c>ServerStopped</c>: every service stopped; the store drained.</summary>
    public const int ServerStopped = 1002;

    /// <summary><c>LoginSucceeded</c>: username and client address.</summary>
    public const int LoginSucceeded = 1100;
    /// <summary><c>LoginFailed</c>: wrong password or unknown user; username (as typed) and client address.</summary>
    public const int LoginFailed = 1101;
    /// <summary><c>LoginThrottled</c>: refused with 429 by the login throttle (sampled: at most one line a second).</summary>
    public const int LoginThrottled = 1102;

    /// <summary><c>SocketOpened</c>: username and sockets open on this node.</summary>
    public const int SocketOpened = 1200;
    /// <summary><c>SocketClosed</c>: username, close code and reason (client, dropped, error, slow, logout, expiry, shutdown, too_big, protocol).</summary>
    public const int SocketClosed = 1201;
    /// <summary><c>SlowConsumerClosed</c>: a socket closed with 1008 as too slow to read, with what was queued.</summary>
    public const int SlowConsumerClosed = 1202;
    /// <summary><c>SocketRefused</c>: the user already had <c>Chat:MaxSocketsPerUser</c> sockets; closed with 1013.</summary>
    public const int SocketRefused = 1203;

    /// <summary><c>SendRateLimited</c>: a send refused by <c>Chat:RateLimit</c> (sampled: at most one line a second).</summary>
    public const int SendRateLimited = 1300;
}
