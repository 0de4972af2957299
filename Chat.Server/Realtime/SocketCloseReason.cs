namespace Chat.Server.Realtime;

/// <summary>
/// Why a socket closed, as the server knows it: the <c>reason</c> tag of <c>chat.sockets.closed</c> and the
/// <c>Reason</c> field of the <c>SocketClosed</c> log event (<see cref="SocketCloseReasons.Tag"/>).
/// </summary>
public enum SocketCloseReason : byte
{
    /// <summary>The connection ended without a close frame (network lost, keep-alive timeout, a failed write).</summary>
    Dropped,
    /// <summary>The client sent a close frame.</summary>
    Client,
    /// <summary>The server could not serve it (the database failed while the socket opened).</summary>
    Error,
    /// <summary>Too slow to read (1008; <see cref="ChatConnection.CloseIfTooSlow"/>).</summary>
    Slow,
    /// <summary>The user already had <c>Chat:MaxSocketsPerUser</c> sockets (1013); the socket was never registered.</summary>
    Limit,
    /// <summary>Its token was revoked by logout (1008).</summary>
    Logout,
    /// <summary>Its token expired (1008).</summary>
    Expiry,
    /// <summary>The server is shutting down (1001).</summary>
    Shutdown,
    /// <summary>A message larger than <c>Chat:MaxFrameBytes</c> (1009).</summary>
    TooBig,
    /// <summary>A binary message (1003) or invalid UTF-8 (1007).</summary>
    Protocol,
}

/// <summary>The wire names of <see cref="SocketCloseReason"/>.</summary>
public static class SocketCloseReasons
{
    private static readonly string[] Tags = ["dropped", "client", "error", "slow", "limit", "logout", "expiry", "shutdown", "too_big", "protocol"];

    /// <summary>Every tag value, in enum order.</summary>
    public static IReadOnlyList<string> All => Tags;

    /// <summary>The lower-case tag: <c>dropped</c>, <c>client</c>, <c>error</c>, <c>slow</c>, <c>limit</c>, <c>logout</c>, <c>expiry</c>, <c>shutdown</c>, <c>too_big</c>, <c>protocol</c>.</summary>
    public static string Tag(this SocketCloseReason reason) => Tags[(int)reason];
}
