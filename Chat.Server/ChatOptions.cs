using System.ComponentModel.DataAnnotations;
using Chat.Server.Hosting;
using Chat.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Chat.Server;

/// <summary>Every limit of the server, bound from the <c>Chat</c> configuration section and validated at start-up.</summary>
public sealed class ChatOptions
{
    public const string Section = "Chat";

    /// <summary>Longest message in Unicode code points. The default is 4000.</summary>
    [Range(1, int.MaxValue)]
    public int MaxMessageLength { get; set; } = 4000;

    /// <summary>Largest inbound WebSocket text message in bytes; larger closes the socket with 1009. The default is 65536.</summary>
    [Range(1, 2_147_483_590)] // the receive buffer holds MaxFrameBytes + 1 bytes: at most Array.MaxLength
    public int MaxFrameBytes { get; set; } = 65536;

    /// <summary>Largest avatar upload in bytes; larger is 413. The default is 1 MiB.</summary>
    [Range(1, 1_000_000_000)] // SQLite's largest value (SQLITE_MAX_LENGTH)
    public int MaxAvatarBytes { get; set; } = 1024 * 1024;

    /// <summary>How long a token stays valid after login. The default is 30 days.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "1000000.00:00:00")] // expiry is stored in whole seconds; the end stays before year 9999
    public TimeSpan TokenLifetime { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// A socket's outbound bound in frames: a queue that stays past it (or past <see cref="SendQueueBytes"/>) for
    /// <see cref="SlowConsumerTimeout"/> counts as too slow and the socket is closed with 1008. The default is 1024.
    /// </summary>
    [Range(2, int.MaxValue)] // sync replies wait while the queue is at half of it: half of 1 would be 0, forever
    public int SendQueueLimit { get; set; } = 1024;

    /// <summary>Sends a socket may have waiting for the database at once before the server stops reading from it. The default is 256.</summary>
    [Range(1, int.MaxValue)]
    public int MaxInFlightSendsPerSocket { get; set; } = 256;

    /// <summary>Most sends committed in one transaction (group commit). The default is 512.</summary>
    [Range(1, int.MaxValue)]
    public int MaxCommitBatch { get; set; } = 512;

    /// <summary>How often the server pings an idle socket. The default is 30 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "49.17:02:47.294")] // a timer's longest period (2^32 - 2 ms)
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a socket may go without answering a ping before it is aborted. The default is 60 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "49.17:02:47.294")] // a timer's longest period (2^32 - 2 ms)
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a closing socket waits for the peer's close frame before it is aborted. The default is 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00.010", "12.10:15:41.823")] // shutdown waits twice this: at most int.MaxValue ms
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Take well-formed, authenticated <c>/ws</c> upgrades off the Kestrel connection before the HTTP pipeline, so an
    /// idle socket does not keep a whole HTTP request alive (about 12 KiB less per socket). The default is true.
    /// </summary>
    public bool WebSocketFastPath { get; set; } = true;

    /// <summary>SQLite <c>synchronous</c> setting: FULL (default; survives power loss) or NORMAL (survives process crash).</summary>
    [RegularExpression(@"\A(?i:FULL|NORMAL|EXTRA)\z", ErrorMessage = "FULL, NORMAL or EXTRA")]
    public string Synchronous { get; set; } = "FULL";

    /// <summary>How long a write waits for a database lock held by another process (SQLite) or another node's write transaction (PostgreSQL's <c>lock_timeout</c>) before it fails with <c>internal</c>; on SQLite rounded up to whole seconds (at least 1). The default is 5 seconds.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "24855.00:00:00")] // applied in whole seconds (at least 1) as an int
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Most sockets one user may have open; one more is closed at once with 1013 (try again later). The default is 10.</summary>
    [Range(1, int.MaxValue)]
    public int MaxSocketsPerUser { get; set; } = 10;

    /// <summary>
    /// A socket's outbound bound in bytes (serialized frames waiting for the socket): a queue that has been past it (or
    /// past <see cref="SendQueueLimit"/>) for a whole <see cref="SlowConsumerTimeout"/>, in which the client took less
    /// than this many bytes (and fewer than that many frames), is closed with 1008. The default is 4 MiB
    /// (4,194,304 bytes). A bound below one frame works too: every frame is then past it and judged by what the client takes.
    /// </summary>
    [Range(typeof(long), "2", "1152921504606846975")] // sync replies wait while the queue holds half of it; at most long.MaxValue / 8
    public long SendQueueBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>
    /// The window over which a socket past its bound is judged: if the client took less than one bound's worth in a
    /// whole window, it is too slow to read (1008); if it took more, it is judged again over the next one. A client that
    /// reads as fast as its network allows is never closed by a burst. The default is 5 seconds.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "10675199.02:48:05")] // only ever compared with elapsed time
    public TimeSpan SlowConsumerTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Bytes queued for all sockets together (a frame counted once per socket it waits for) above which any socket past
    /// its own bound is closed at once, however short its time past it. The default is 256 MiB (268,435,456 bytes).
    /// </summary>
    [Range(typeof(long), "0", "1152921504606846975")] // at most long.MaxValue / 8
    public long MaxOutboundBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>
    /// How long a stopping server (SIGTERM) keeps serving after it starts answering <c>/healthz/ready</c> with 503, so a
    /// load balancer polling readiness takes it out of rotation before its sockets are closed with 1001. The default is
    /// 0 (close at once); set it to a little more than the balancer's check interval times its failure threshold. The
    /// host's <c>HostOptions:ShutdownTimeout</c> (default 30 seconds) must leave room for it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "1.00:00:00")]
    public TimeSpan DrainDelay { get; set; } = TimeSpan.Zero;

    /// <summary>
    /// Origins (<c>scheme://host[:port]</c>, e.g. <c>https://app.example.com</c>) of web pages served elsewhere that may
    /// call the HTTP API (CORS) and open <c>/ws</c> (the upgrade's <c>Origin</c> header). Set as
    /// <c>Chat:AllowedOrigins:0</c>, <c>:1</c>, ... or as one comma-separated value. The default is none: only pages of
    /// the server's own origin (and clients that send no <c>Origin</c>, which browsers always send) are let in.
    /// </summary>
    [OriginList]
    public string[] AllowedOrigins { get; set; } = [];

    [ValidateObjectMembers]
    public RateLimitOptions RateLimit { get; set; } = new();

    [ValidateObjectMembers]
    public LoginThrottleOptions LoginThrottle { get; set; } = new();

    /// <summary>The store (<c>Chat:Database</c>).</summary>
    [ValidateObjectMembers]
    public DatabaseOptions Database { get; set; } = new();

    /// <summary>Reverse proxies whose <c>X-Forwarded-For</c> names the client (<c>Chat:ForwardedHeaders</c>); none by default.</summary>
    [ValidateObjectMembers]
    public TrustedProxyOptions ForwardedHeaders { get; set; } = new();

    /// <summary>Cluster membership (<c>Chat:Cluster</c>); used only when <c>ConnectionStrings:Redis</c> is set (contract section 5).</summary>
    [ValidateObjectMembers]
    public ClusterOptions Cluster { get; set; } = new();

    /// <summary>The Prometheus endpoint <c>/metrics</c> (<c>Chat:Metrics</c>): on by default, on every address.</summary>
    [ValidateObjectMembers]
    public Observability.MetricsOptions Metrics { get; set; } = new();
}

/// <summary>Several nodes behind a load balancer, sharing PostgreSQL and Redis (docs/scale-out.md).</summary>
public sealed class ClusterOptions
{
    /// <summary>
    /// How long a node that stopped heartbeating (killed, cut off from Redis) still counts: within this time its users
    /// stop showing online on the other nodes (contract section 5). A node heartbeats every quarter of it and is presumed
    /// dead after half of it without one. The default is 30 seconds; at least 1 second.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:01", "1.00:00:00")]
    public TimeSpan NodeTimeout { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Login throttling (protocol.md, "Register and log in"). Failed logins are counted over a sliding
/// <see cref="Window"/> per (username, client address) pair, per username and per client address (an IPv6 address
/// counts by its /64). A pair over its budget is blocked; a username or an address over its budget is only slowed,
/// so no client can lock anyone else out of an account.
/// </summary>
public sealed class LoginThrottleOptions
{
    /// <summary>
    /// Failed logins of one username from one client address per window; past it, that pair gets 429
    /// <c>rate_limited</c> (password not checked) until its failures age out of the window. The default is 5.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int FailuresPerUsernameAndAddress { get; set; } = 5;

    /// <summary>
    /// Failed logins of one username from all addresses per window; past it, every login for that username waits
    /// <see cref="SlowdownDelay"/> before its password is checked (never refused for it). The default is 20.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int FailuresPerUsername { get; set; } = 20;

    /// <summary>
    /// Failed logins from one client address for all usernames per window; past it, every login from that address
    /// waits <see cref="SlowdownDelay"/> before its password is checked (never refused for it). The default is 50.
    /// </summary>
    [Range(1, int.MaxValue)]
    public int FailuresPerAddress { get; set; } = 50;

    /// <summary>The sliding counting window; a blocked pair's <c>Retry-After</c> (whole seconds). The default is 5 minutes.</summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "24855.00:00:00")]
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How long a slowed login waits before its password is checked. The default is 1 second.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "49.17:02:47.294")]
    public TimeSpan SlowdownDelay { get; set; } = TimeSpan.FromSeconds(1);
}

/// <summary>Which store holds the data (contract section 1).</summary>
public sealed class DatabaseOptions
{
    /// <summary>
    /// <c>Sqlite</c> (the default: an embedded database file named by <c>ConnectionStrings:Chat</c>) or <c>Postgres</c>
    /// (<c>ConnectionStrings:Chat</c> is then an Npgsql connection string). Case does not matter.
    /// </summary>
    [RegularExpression(@"\A(?i:Sqlite|Postgres)\z", ErrorMessage = "Sqlite or Postgres")]
    public string Provider { get; set; } = "Sqlite";
}

/// <summary>Per-user send rate, counted over WebSocket and HTTP together.</summary>
public sealed class RateLimitOptions
{
    /// <summary>Sustained sends per second per user; 0 turns the limit off. The default is 20.</summary>
    [Range(0, int.MaxValue)]
    public int MessagesPerSecond { get; set; } = 20;

    /// <summary>Sends allowed at once above the sustained rate. The default is 40.</summary>
    [Range(1, int.MaxValue)]
    public int Burst { get; set; } = 40;
}

[OptionsValidator]
internal sealed partial class ChatOptionsValidator : IValidateOptions<ChatOptions>;
