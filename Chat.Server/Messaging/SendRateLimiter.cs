using System.Threading.RateLimiting;
using Chat.Protocol;
using Chat.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Chat.Server.Messaging;

/// <summary>
/// Per-user token bucket over sends from every transport (<c>Chat:RateLimit</c>). The partitioned
/// limiter replenishes all buckets from one timer, so idle users cost no timer each.
/// </summary>
public sealed class SendRateLimiter : IDisposable
{
    private readonly PartitionedRateLimiter<long>? _limiter;

    public SendRateLimiter(IOptions<ChatOptions> options)
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
    }

    /// <summary>Takes one send from the user's budget or throws <c>rate_limited</c> with a retry hint.</summary>
    public void Acquire(long userId)
    {
        if (_limiter is null) return;
        using var lease = _limiter.AttemptAcquire(userId);
        if (lease.IsAcquired) return;
        var retry = lease.TryGetMetadata(MetadataName.RetryAfter, out var after) ? after : TimeSpan.FromSeconds(1);
        throw new ChatException(429, ErrorCodes.RateLimited, "Too many messages; slow down.") { RetryAfter = retry };
    }

    public void Dispose() => _limiter?.Dispose();
}
