using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Chat.Server;

/// <summary>Every limit of the server, bound from the <c>Chat</c> configuration section and validated at start-up.</summary>
public sealed class ChatOptions
{
    public const string Section = "Chat";

    /// <summary>Longest message in Unicode code points. The default is 4000.</summary>
    [Range(1, 1_000_000)]
    public int MaxMessageLength { get; set; } = 4000;

    /// <summary>Largest inbound WebSocket text message in bytes; larger closes the socket with 1009. The default is 65536.</summary>
    [Range(1024, 16 * 1024 * 1024)]
    public int MaxFrameBytes { get; set; } = 65536;

    /// <summary>Largest avatar upload in bytes; larger is 413. The default is 1 MiB.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxAvatarBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a token stays valid after login. The default is 30 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "3650.00:00:00")]
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// A socket's outbound bound in frames: a queue that stays past it (or past <see cref="SendQueueBytes"/>) for
    /// <see cref="SlowConsumerTimeout"/> counts as too slow and the socket is closed with 1008. The default is 1024.
    /// </summary>
    [Range(8, 1_000_000)]
    public int SendQueueLimit { get; set; } = 1024;

    /// <summary>Sends a socket may have waiting for the database at once before the server stops reading from it. The default is 256.</summary>
    [Range(1, 100_000)]
    public int MaxInFlightSendsPerSocket { get; set; } = 256;

    /// <summary>Most sends committed in one transaction (group commit). The default is 512.</summary>
    [Range(1, 100_000)]
    public int MaxCommitBatch { get; set; } = 512;

    /// <summary>How often the server pings an idle socket. The default is 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a socket may go without answering a ping before it is aborted. The default is 60 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a closing socket waits for the peer's close frame before it is aborted. The default is 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "00:10:00")]
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Take well-formed, authenticated <c>/ws</c> upgrades off the Kestrel connection before the HTTP pipeline, so an
    /// idle socket does not keep a whole HTTP request alive (about 12 KiB less per socket). The default is true.
    /// </summary>
    public bool WebSocketFastPath { get; set; } = true;

    /// <summary>SQLite <c>synchronous</c> setting: FULL (default; survives power loss) or NORMAL (survives process crash).</summary>
    [RegularExpression(@"\A(?i:FULL|NORMAL|EXTRA)\z")]
    public string Synchronous { get; set; } = "FULL";

    /// <summary>How long a write waits for a database lock held by another process before it fails with <c>internal</c>. The default is 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.050", "00:10:00")]
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most sockets one user may have open; one more is closed at once with 1013 (try again later). The default is 10.</summary>
    [Range(1, 10_000)]
    public int MaxSocketsPerUser { get; set; } = 10;

    /// <summary>
    /// A socket's outbound bound in bytes (serialized frames waiting for the socket): a queue that stays past it (or
    /// past <see cref="SendQueueLimit"/>) for <see cref="SlowConsumerTimeout"/> is closed with 1008, and one holding more
    /// than four times it is closed at once. The default is 4 MiB (4,194,304 bytes): more than the largest burst one
    /// group commit can queue for one user at the default limits (512 messages of at most ~16 KB).
    /// </summary>
    [Range(1024, long.MaxValue / 8)]
    public long SendQueueBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>
    /// How long a socket's queue may stay past its bound before the client counts as too slow to read (1008). A client
    /// that reads as fast as its network allows brings a burst below the bound well within it. The default is 5 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan SlowConsumerTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Bytes queued for all sockets together (a frame counted once per socket it waits for) above which any socket past
    /// its own bound is closed at once, however short its time past it. The default is 256 MiB (268,435,456 bytes).
    /// </summary>
    [Range(1024, long.MaxValue / 8)]
    public long MaxOutboundBytes { get; set; } = 256L * 1024 * 1024;

    [ValidateObjectMembers]
    public RateLimitOptions RateLimit { get; set; } = new();

    [ValidateObjectMembers]
    public LoginThrottleOptions LoginThrottle { get; set; } = new();
}

/// <summary>Failed logins allowed per window before further attempts get 429, per username and per client address.</summary>
public sealed class LoginThrottleOptions
{
    /// <summary>Failed logins per username per window. The default is 10.</summary>
    [Range(1, 1_000_000)]
    public int FailuresPerUsername { get; set; } = 10;

    /// <summary>Failed logins per client address per window. The default is 50.</summary>
    [Range(1, 1_000_000)]
    public int FailuresPerAddress { get; set; } = 50;

    /// <summary>The counting window. The default is 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>Per-user send rate, counted over WebSocket and HTTP together.</summary>
public sealed class RateLimitOptions
{
    /// <summary>Sustained sends per second per user; 0 turns the limit off. The default is 20.</summary>
    [Range(0, 1_000_000)]
    public int MessagesPerSecond { get; set; } = 20;

    /// <summary>Sends allowed at once above the sustained rate. The default is 40.</summary>
    [Range(1, 1_000_000)]
    public int Burst { get; set; } = 40;
}

[OptionsValidator]
internal sealed partial class ChatOptionsValidator : IValidateOptions<ChatOptions>;
