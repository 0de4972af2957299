using System.Threading.Channels;
using Chat.Server.Realtime;
using Chat.Server.Storage;

namespace Chat.Server.Cluster;

/// <summary>
/// Makes up for session signals the bus lost (contract section 5: logout closes the token's sockets on every node; a
/// profile change shows on every node within a second). Pub/sub drops what is published while Redis is unreachable, so
/// when the backplane comes back (<see cref="Request"/>) and every <see cref="Interval"/> anyway, this node closes its
/// sockets whose token was revoked meanwhile (1008, as at logout), and on a comeback drops its cached user rows.
/// </summary>
public sealed partial class SessionReconciler(
    ConnectionRegistry registry,
    PostgresDatabase database,
    CachingUserStore users,
    TimeProvider clock,
    ILogger<SessionReconciler> logger) : BackgroundService
{
    /// <summary>How often revoked tokens are looked for without a comeback: 30 seconds.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(30);

    private readonly Channel<bool> _requests = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>The backplane came back: reconcile now.</summary>
    public void Request() => _requests.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                await Task.WhenAny(_requests.Reader.WaitToReadAsync(wait.Token).AsTask(), Task.Delay(Interval, clock, wait.Token));
                await wait.CancelAsync();
            }
            if (stoppingToken.IsCancellationRequested) return;
            var comeback = _requests.Reader.TryRead(out _);
            try
            {
                if (comeback) users.ForgetAll();
                var tokens = registry.All().Select(c => c.TokenId).Distinct().ToArray();
                if (tokens.Length == 0) continue;
                var revoked = (await database.RevokedTokensAsync(tokens, stoppingToken)).ToHashSet();
                foreach (var socket in registry.All().Where(c => revoked.Contains(c.TokenId)).ToList())
                    registry.CloseToken(socket.UserId, socket.TokenId, Chat.Protocol.CloseCodes.PolicyViolation, "token revoked");
                if (revoked.Count > 0) LogClosed(logger, revoked.Count);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogFailed(logger, e);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Closed the sockets of {Count} tokens revoked while the backplane could not say so")]
    private static partial void LogClosed(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for revoked tokens failed; trying again later")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
