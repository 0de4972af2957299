using Chat.Server.Infrastructure;
using StackExchange.Redis;

namespace Chat.Server.Cluster;

/// <summary>
/// This node's connection to the cluster's Redis (<c>ConnectionStrings:Redis</c>, a StackExchange.Redis configuration
/// string; contract section 5): one multiplexed connection for commands and one for the bus subscription, reconnected
/// and resubscribed by the library on its own. Every node of a cluster publishes to one bus channel and reads all of it
/// (docs/scale-out.md explains why one channel rather than one per user). Keys and the channel are prefixed with the
/// database's cluster id, so clusters (or test runs) sharing one Redis never see each other.
/// </summary>
/// <remarks>
/// Publishing never waits and never throws: while Redis is unreachable a message is dropped (commands fail fast rather
/// than pile up in memory), and what that drops from the message stream is filled from the database
/// (<see cref="StreamSequencer"/>).
/// </remarks>
public sealed partial class RedisBackplane : IDisposable
{
    private const string Accepted = "a StackExchange.Redis configuration string such as \"127.0.0.1:6379\"";
    private readonly ILogger<RedisBackplane> _logger;
    private readonly TimeProvider _clock;
    private string? _prefix;
    private long _suspendedUntil;

    /// <summary>How long the counters skip Redis after a call to it failed or timed out: 5 seconds.</summary>
    public static readonly TimeSpan FailureBackoff = TimeSpan.FromSeconds(5);

    /// <summary>The command timeout this node uses unless the configuration string sets one: 1 second (the library's default is 5).</summary>
    public const int DefaultTimeoutMilliseconds = 1000;

    public RedisBackplane(IConfiguration configuration, TimeProvider clock, ILogger<RedisBackplane> logger)
    {
        _logger = logger;
        _clock = clock;
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(configuration.GetConnectionString("Redis")!);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or RedisException)
        {
            throw new InvalidSettingException("ConnectionStrings:Redis", Accepted, e);
        }
        if (options.EndPoints.Count == 0
            || options.EndPoints.Any(e => e is System.Net.DnsEndPoint d && Uri.CheckHostName(d.Host) == UriHostNameType.Unknown))
            throw new InvalidSettingException("ConnectionStrings:Redis", Accepted);
        // Start even while Redis is down (it is then reached in the background), and fail commands at once while it is
        // unreachable instead of queueing them: the stream is refilled from the database, nothing waits on Redis.
        options.AbortOnConnectFail = false;
        options.BacklogPolicy = BacklogPolicy.FailFast;
        options.ClientName ??= $"chat-{NodeId:N}";
        // A Redis that hangs (a partition, a stopped process) must not hold sends, logins or presence for the library's
        // default 5 s per command: a command fails after a second, and the counters then skip Redis for a while.
        var text = configuration.GetConnectionString("Redis")!;
        if (!text.Contains("syncTimeout", StringComparison.OrdinalIgnoreCase)) options.SyncTimeout = DefaultTimeoutMilliseconds;
        if (!text.Contains("asyncTimeout", StringComparison.OrdinalIgnoreCase)) options.AsyncTimeout = DefaultTimeoutMilliseconds;
        Connection = ConnectionMultiplexer.Connect(options);
    }

    /// <summary>This process's id in the cluster (new at every start).</summary>
    public Guid NodeId { get; } = Guid.NewGuid();

    public IConnectionMultiplexer Connection { get; }

    public IDatabase Database => Connection.GetDatabase();

    /// <summary>True while the connection to Redis is up.</summary>
    public bool IsConnected => Connection.IsConnected;

    /// <summary>
    /// True when a request-path caller (the send rate limit, the login throttle) should ask Redis: connected, and no call
    /// failed in the last <see cref="FailureBackoff"/>. Otherwise the caller uses this node's own state, so a hung Redis
    /// costs at most one timeout per backoff, never a send.
    /// </summary>
    public bool IsUsable => IsConnected && _clock.GetTimestamp() >= Volatile.Read(ref _suspendedUntil);

    /// <summary>A call to Redis failed or timed out: request paths skip Redis for <see cref="FailureBackoff"/>.</summary>
    public void ReportFailure(Exception e)
    {
        Volatile.Write(ref _suspendedUntil, _clock.GetTimestamp() + (long)(FailureBackoff.TotalSeconds * _clock.TimestampFrequency));
        LogCallFailed(_logger, e.GetType().Name);
    }

    /// <summary>The prefix of every key and channel: <c>chat:{cluster id}:</c>. Set once at start (<see cref="ClusterStartup"/>).</summary>
    public string Prefix => _prefix ?? throw new InvalidOperationException("The cluster id is read at start.");

    internal void SetClusterId(string clusterId) => _prefix = $"chat:{clusterId}:";

    /// <summary>The bus channel every node publishes to and reads.</summary>
    public RedisChannel Bus => RedisChannel.Literal(Prefix + "bus");

    /// <summary>Publishes one encoded bus message (<see cref="BusCodec"/>) without waiting; dropped while Redis is unreachable.</summary>
    public void Publish(byte[] message)
    {
        try
        {
            Connection.GetSubscriber().Publish(Bus, message, CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
            LogPublishFailed(_logger, e.GetType().Name);
        }
    }

    public void Dispose() => Connection.Dispose();

    [LoggerMessage(Level = LogLevel.Warning, Message = "A call to Redis failed ({Error}); rate limits and the login throttle count on this node for a few seconds")]
    private static partial void LogCallFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "A bus message was dropped ({Error}); the stream is refilled from the database")]
    private static partial void LogPublishFailed(ILogger logger, string error);
}
