namespace Chat.Server.Observability;

/// <summary>
/// The stable ids of the server's structured log events, in one place, so operators can alert on them (the JSON console
/// formatter writes them as <c>EventId</c> and the name as <c>EventName</c>). Ranges: 1000 lifecycle, 1100 logins,
/// 1200 sockets, 1300 sends, 1400 the store, 1500 errors, 1600 the cluster. An id is never reused for another event.
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

    /// <summary><c>SchemaMigrated</c>: a schema migration was applied at start-up (SQLite or PostgreSQL), with its version.</summary>
    public const int SchemaMigrated = 1003;

    /// <summary><c>CommitFailed</c>: a group-commit transaction failed; every write in it was refused (nothing acknowledged).</summary>
    public const int CommitFailed = 1400;
    /// <summary><c>DurabilityFailed</c>: making committed writes durable (the WAL fsync) failed.</summary>
    public const int DurabilityFailed = 1401;
    /// <summary><c>StoreStopped</c> (Critical): after a failed fsync the store stopped taking writes; restart once the disk is fixed.</summary>
    public const int StoreStopped = 1402;
    /// <summary><c>CheckpointBehind</c>: the SQLite WAL grows faster than checkpoints shrink it.</summary>
    public const int CheckpointBehind = 1403;

    /// <summary><c>UnhandledError</c>: an HTTP request failed with an unexpected exception (answered 500 <c>internal</c>).</summary>
    public const int UnhandledError = 1500;
    /// <summary><c>FrameHandlingFailed</c>: a client frame failed with an unexpected exception (answered with an <c>error</c> frame).</summary>
    public const int FrameHandlingFailed = 1501;

    /// <summary><c>BackplaneLost</c>: this node lost Redis; sends go on, other nodes' frames are filled from the database.</summary>
    public const int BackplaneLost = 1600;
    /// <summary><c>BackplaneBack</c>: Redis is back.</summary>
    public const int BackplaneBack = 1601;
    /// <summary><c>NodeReaped</c>: a node that stopped heartbeating was removed from presence.</summary>
    public const int NodeReaped = 1602;
}
