using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Chat.Protocol;
using Chat.Server.Infrastructure;
using Chat.Server.Observability;
using Microsoft.Extensions.Options;

namespace Chat.Server.Auth;

/// <summary>
/// Slows password guessing without letting anyone lock others out (protocol.md, "Register and log in";
/// <see cref="LoginThrottleOptions"/>). Failed logins are counted over a sliding window per (username, client
/// address) pair, per username and per client address:
/// <list type="bullet">
/// <item>a pair that spent its budget is blocked: 429 <c>rate_limited</c> with <c>Retry-After</c>, the password
/// not checked, until its failures age out;</item>
/// <item>a username or an address that spent its budget only slows: the attempt waits
/// <see cref="LoginThrottleOptions.SlowdownDelay"/>, then is checked as usual;</item>
/// <item>the attempts of one pair run one at a time (a few more may wait their turn; past that, 429), so a burst
/// of parallel guesses cannot check more passwords than the pair's budget.</item>
/// </list>
/// So a client can block only its own attempts at one account; failures for other accounts, or from other
/// addresses, never refuse a correct password. The client address is the connection's (or, from a trusted proxy,
/// <c>X-Forwarded-For</c>'s); an IPv6 address counts by its /64, which one client can hold whole. This class is
/// the only one that knows the counting; in a cluster the failures are counted in Redis, across every node.
/// It also reports every outcome (<c>chat.logins</c> and the <c>LoginSucceeded</c>, <c>LoginFailed</c> and
/// <c>LoginThrottled</c> log events). A failed login names the account only when it exists (people type their password
/// into the username field), and a throttled one never does; no password is ever logged.
/// </summary>
public sealed partial class LoginThrottle : IDisposable
{
    /// <summary>Attempts of one pair that may wait behind the one being checked; more at once are refused (429).</summary>
    private const int WaitingPerPair = 8;
    private const int SegmentsPerWindow = 10;
    /// <summary>Usernames are at most 32 characters; a longer one cannot exist and must not make a large key.</summary>
    private const int MaxUsernameKey = 64;

    private readonly LoginThrottleOptions _options;
    private readonly TimeProvider _clock;
    private readonly FailureCounter _pairFailures;
    private readonly FailureCounter _usernameFailures;
    private readonly FailureCounter _addressFailures;
    private readonly PartitionedRateLimiter<string> _pairTurns;
    private readonly ChatMetrics _metrics;
    private readonly ILogger _logger;
    private readonly LogSampler _throttledLog = new();

    /// <param name="backplane">In a cluster, the failures are counted in Redis too, so they count across every node
    /// (contract section 5; <c>RedisRateLimiting</c>'s sliding window). While Redis is unreachable this node's own counts
    /// decide. The pair's one-at-a-time turn stays per node.</param>
    public LoginThrottle(IOptions<ChatOptions> options, TimeProvider clock, ChatMetrics metrics, ILogger<LoginThrottle> logger, Cluster.RedisBackplane? backplane = null)
    {
        _metrics = metrics;
        _logger = logger;
        _options = options.Value.LoginThrottle;
        _clock = clock;
        _pairFailures = new FailureCounter("pair", _options.FailuresPerUsernameAndAddress, _options.Window, backplane);
        _usernameFailures = new FailureCounter("user", _options.FailuresPerUsername, _options.Window, backplane);
        _addressFailures = new FailureCounter("address", _options.FailuresPerAddress, _options.Window, backplane);
        _pairTurns = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetConcurrencyLimiter(key, _ => new ConcurrencyLimiterOptions
        {
            PermitLimit = 1,
            QueueLimit = WaitingPerPair,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        }));
    }

    /// <summary>
    /// Failures take permits; a partition with none left has spent its budget. This node's counts are replenished by the
    /// partitioned limiter's timer; the cluster's (when there is one) are a sliding window in Redis.
    /// </summary>
    private sealed class FailureCounter : IDisposable
    {
        private readonly PartitionedRateLimiter<string> _local;
        private readonly PartitionedRateLimiter<string>? _shared;
        private readonly Cluster.RedisBackplane? _backplane;

        public FailureCounter(string name, int budget, TimeSpan window, Cluster.RedisBackplane? backplane)
        {
            _backplane = backplane;
            _local = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetSlidingWindowLimiter(key, _ => new SlidingWindowRateLimiterOptions
            {
                PermitLimit = budget,
                Window = window,
                SegmentsPerWindow = SegmentsPerWindow,
                QueueLimit = 0,
                AutoReplenishment = false,
            }));
            if (backplane is null) return;
            _shared = PartitionedRateLimiter.Create<string, string>(key => RedisRateLimiting.RedisRateLimitPartition.GetSlidingWindowRateLimiter(
                $"{backplane.Prefix}login:{name}:{key}", _ => new RedisRateLimiting.RedisSlidingWindowRateLimiterOptions
                {
                    ConnectionMultiplexerFactory = () => backplane.Connection,
                    PermitLimit = budget,
                    Window = window,
                }));
        }

        public bool Spent(string key)
        {
            if (_shared is not null && _backplane!.IsUsable)
            {
                try { return _shared.GetStatistics(key)?.CurrentAvailablePermits <= 0; }
                catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
                {
                    _backplane.ReportFailure(e); // this node's count decides
                }
            }
            return _local.GetStatistics(key)?.CurrentAvailablePermits <= 0;
        }

        public async Task AddAsync(string key)
        {
            _local.AttemptAcquire(key).Dispose();
            if (_shared is null || !_backplane!.IsUsable) return;
            // AcquireAsync: the Redis limiter's synchronous AttemptAcquire does not reach Redis.
            try { (await _shared.AcquireAsync(key)).Dispose(); }
            catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException or OperationCanceledException)
            {
                _backplane.ReportFailure(e); // counted on this node only
            }
        }

        public void Dispose()
        {
            _local.Dispose();
            _shared?.Dispose();
        }
    }

    /// <summary>
    /// Starts a login attempt for <paramref name="username"/> from <paramref name="address"/>: waits for the pair's
    /// turn, throws 429 <c>rate_limited</c> when the pair is blocked, and waits the slowdown when the username or the
    /// address is over its budget. Dispose the result once the answer is known; call
    /// <see cref="Attempt.FailedAsync"/> first when the password was wrong.
    /// </summary>
    public async Task<Attempt> BeginAsync(string username, IPAddress? address, CancellationToken ct)
    {
        var user = UsernameKey(username);
        var client = AddressKey(address);
        var pair = $"{client} {user}";
        var turn = await _pairTurns.AcquireAsync(pair, 1, ct);
        try
        {
            if (!turn.IsAcquired || _pairFailures.Spent(pair))
            {
                _metrics.Login(LoginOutcome.Throttled);
                if (_throttledLog.TryEnter(out var skipped)) Log.LoginThrottled(_logger, client, skipped);
                throw new ChatException(429, ErrorCodes.RateLimited, "Too many failed logins for this account from this address; try again later.")
                {
                    RetryAfter = _options.Window,
                };
            }
            if (_options.SlowdownDelay > TimeSpan.Zero && (_usernameFailures.Spent(user) || _addressFailures.Spent(client)))
                await Task.Delay(_options.SlowdownDelay, _clock, ct);
            return new Attempt(this, user, client, pair, turn);
        }
        catch
        {
            turn.Dispose();
            throw;
        }
    }

    internal static string UsernameKey(string username) =>
        (username.Length > MaxUsernameKey ? username[..MaxUsernameKey] : username).ToLowerInvariant();

    /// <summary>The client an address stands for: an IPv4 address (also when mapped into IPv6), or an IPv6 /64.</summary>
    internal static string AddressKey(IPAddress? address)
    {
        if (address is null) return "unknown";
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return address.ToString();
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes) + "/64";
    }

    public void Dispose()
    {
        _pairFailures.Dispose();
        _usernameFailures.Dispose();
        _addressFailures.Dispose();
        _pairTurns.Dispose();
    }

    /// <summary>One login attempt; holds its pair's turn until disposed.</summary>
    public sealed class Attempt : IDisposable
    {
        private readonly LoginThrottle _throttle;
        private readonly string _user;
        private readonly string _client;
        private readonly string _pair;
        private readonly RateLimitLease _turn;

        internal Attempt(LoginThrottle throttle, string user, string client, string pair, RateLimitLease turn)
        {
            _throttle = throttle;
            _user = user;
            _client = client;
            _pair = pair;
            _turn = turn;
        }

        /// <summary>The password was right: reports the login of <paramref name="username"/> (as stored).</summary>
        public void Succeeded(string username)
        {
            _throttle._metrics.Login(LoginOutcome.Success);
            Log.LoginSucceeded(_throttle._logger, username, _client);
        }

        /// <summary>
        /// Counts this attempt as a failed login (wrong password or unknown user). <paramref name="existingUsername"/> is
        /// the account's stored username when it exists, else null: what was typed is not logged then.
        /// </summary>
        public async Task FailedAsync(string? existingUsername)
        {
            _throttle._metrics.Login(LoginOutcome.Failure);
            Log.LoginFailed(_throttle._logger, existingUsername ?? "(no such user)", _client);
            await _throttle._pairFailures.AddAsync(_pair);
            await _throttle._usernameFailures.AddAsync(_user);
            await _throttle._addressFailures.AddAsync(_client);
        }

        public void Dispose() => _turn.Dispose();
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = ChatEventIds.LoginSucceeded, EventName = "LoginSucceeded", Level = LogLevel.Information,
            Message = "Login of {Username} from {ClientAddress}")]
        public static partial void LoginSucceeded(ILogger logger, string username, string clientAddress);

        [LoggerMessage(EventId = ChatEventIds.LoginFailed, EventName = "LoginFailed", Level = LogLevel.Warning,
            Message = "Failed login for {Username} from {ClientAddress}")]
        public static partial void LoginFailed(ILogger logger, string username, string clientAddress);

        [LoggerMessage(EventId = ChatEventIds.LoginThrottled, EventName = "LoginThrottled", Level = LogLevel.Warning,
            Message = "Refused a login from {ClientAddress} by the login throttle; {Skipped} more refused since the last such line")]
        public static partial void LoginThrottled(ILogger logger, string clientAddress, long skipped);
    }
}
