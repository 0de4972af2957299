using System.Threading.RateLimiting;
using Chat.Protocol;
using Chat.Server.Cluster;
using Chat.Server.Infrastructure;
using Chat.Server.Observability;
using Microsoft.Extensions.Options;
using RedisRateLimiting;
using StackExchange.Redis;

namespace Chat.Server.Messaging;

/// <summary>
/// Per-user token bucket over sends from every transport (<c>Chat:RateLimit</c>). The partitioned limiter replenishes
/// all buckets from one timer, so idle users cost no timer each. In a cluster the bucket lives in Redis
/// (<c>RedisRateLimiting</c>'s token bucket, one key per user under the cluster's prefix), so a user's sends count across
/// every node (contract section 5); while Redis is unreachable each node falls back to its own bucket, so sends go on.
/// </summary>
public sealed partial class SendRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<long>? _limiter;
    private readonly PartitionedRateLimiter<long>? _cluster;
    private readonly RedisBackplane? _backplane;
    private readonly ChatMetrics _metrics;
    private readonly ILogger _logger;
    private readonly LogSampler _logSampler = new();

    public SendRateLimiter(IOptions<ChatOptions> options, ChatMetrics metrics, ILogger<SendRateLimiter> logger, RedisBackplane? backplane = null)
    {
        _metrics = metrics;
        _logger = logger;
        var o = options.Value.RateLimit;
        if (o.MessagesPerSecond == 0) return;
        _limiter = PartitionedRateLimiter.Create<long, long>(userId => RateLimitPartition.GetTokenBucketLimiter(userId, _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = o.Burst,
            TokensPerPeriod = o.MessagesPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = false,
        }));
        if (backplane is null) return;
        _backplane = backplane;
        _cluster = PartitionedRateLimiter.Create<long, string>(userId => RedisRateLimitPartition.GetTokenBucketRateLimiter($"{backplane.Prefix}send:{userId}", _ => new RedisTokenBucketRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => backplane.Connection,
            TokenLimit = o.Burst,
            TokensPerPeriod = o.MessagesPerSecond,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        }));
    }

    /// <summary>Takes one send from the user's budget or throws <c>rate_limited</c> (429) with a retry hint.</summary>
    public async ValueTask AcquireAsync(long userId)
    {
        if (_limiter is null) return;
        if (_cluster is not null && _backplane!.IsUsable)
        {
            RateLimitLease shared;
            try
            {
                shared = await _cluster.AcquireAsync(userId);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
            {
                // Redis is gone or hangs: this node's own bucket decides until it answers again.
                _backplane.ReportFailure(e);
                shared = _limiter.AttemptAcquire(userId);
            }
            using (shared) Check(shared, userId);
            return;
        }
        using var lease = _limiter.AttemptAcquire(userId);
        Check(lease, userId);
    }

    private void Check(RateLimitLease lease, long userId)
    {
        if (lease.IsAcquired) return;
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        _metrics.SendRateLimited();
        if (_logSampler.TryEnter(out var skipped)) Log.SendRateLimited(_logger, userId, retry.TotalSeconds, skipped);
        throw new ChatException(429, ErrorCodes.RateLimited, "Too many messages; slow down.") { RetryAfter = retry };
    }

    public void Dispose()
    {
        _limiter?.Dispose();
        _cluster?.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = ChatEventIds.SendRateLimited, EventName = "SendRateLimited", Level = LogLevel.Warning,
            Message = "Refused a send of user {UserId} by the rate limit (retry after {RetryAfterSeconds} s); {Skipped} more refused since the last such line")]
        public static partial void SendRateLimited(ILogger logger, long userId, double retryAfterSeconds, long skipped);
    }
}
