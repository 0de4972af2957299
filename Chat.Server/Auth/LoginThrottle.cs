using System.Threading.RateLimiting;
using Chat.Protocol;
using Chat.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Chat.Server.Auth;

/// <summary>
/// Slows password guessing: failed logins are counted per username and per client address in a fixed
/// window; once either budget is spent, logins for it get 429 <c>rate_limited</c> until the window ends,
/// whether the password is right or not.
/// </summary>
public sealed class LoginThrottle : IDisposable
{
    private readonly PartitionedRateLimiter<string> _byUsername;
    private readonly PartitionedRateLimiter<string> _byAddress;
    private readonly TimeSpan _window;

    public LoginThrottle(IOptions<ChatOptions> options)
    {
        var o = options.Value.LoginThrottle;
        _window = o.Window;
        _byUsername = Create(o.FailuresPerUsername, o.Window);
        _byAddress = Create(o.FailuresPerAddress, o.Window);
    }

    private static PartitionedRateLimiter<string> Create(int failures, TimeSpan window) =>
        PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetFixedWindowLimiter(key, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = failures,
            Window = window,
            QueueLimit = 0,
            AutoReplenishment = false,
        }));

    /// <summary>Throws <c>rate_limited</c> when this username or address has used up its failures.</summary>
    public void EnsureAllowed(string username, string address)
    {
        if (Exhausted(_byUsername, Key(username)) || Exhausted(_byAddress, address))
            throw new ChatException(429, ErrorCodes.RateLimited, "Too many failed logins; try again later.") { RetryAfter = _window };
    }

    public void RecordFailure(string username, string address)
    {
        _byUsername.AttemptAcquire(Key(username)).Dispose();
        _byAddress.AttemptAcquire(address).Dispose();
    }

    private static bool Exhausted(PartitionedRateLimiter<string> limiter, string key) =>
        limiter.GetStatistics(key)?.CurrentAvailablePermits <= 0;

    private static string Key(string username) => username.ToLowerInvariant();

    public void Dispose()
    {
        _byUsername.Dispose();
        _byAddress.Dispose();
    }
}
