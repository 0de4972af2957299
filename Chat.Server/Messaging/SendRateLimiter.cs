using System.Threading.RateLimiting;
using Chat.Protocol;
using Chat.Server.Cluster;
using Chat.Server.Infrastructure;
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
public sealed class SendRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<long>? _limiter;
    private readonly PartitionedRateLimiter<long>? _cluster;
    private readonly RedisBackplane? _backplane;

    public SendRateLimiter(IOptions<ChatOptions> options, RedisBackplane? backplane = null)
    {
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
            using (shared) Check(shared);
            return;
        }
        using var lease = _limiter.AttemptAcquire(userId);
        Check(lease);
    }

    private static void Check(RateLimitLease lease)
    {
        if (lease.IsAcquired) return;
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        throw new ChatException(429, ErrorCodes.RateLimited, "Too many messages; slow down.") { RetryAfter = retry };
    }

    public void Dispose()
    {
        _limiter?.Dispose();
        _cluster?.Dispose();
    }
}
