using Chat.Protocol;

namespace Chat.Server.Realtime;

/// <summary>
/// Looks at every open socket once a second and closes (1008) those whose token has expired and those that count
/// as too slow to read (<see cref="ChatConnection.CloseIfTooSlow"/>) although no new frame came to judge them by, and
/// lets go of live frames held for a paged <c>sync</c> the client did not continue (<see cref="ChatConnection.ReleaseExpiredCatchUp"/>).
/// One timer for all sockets instead of one per socket: a timer and its cancellation source were ~300 bytes of
/// every idle socket.
/// </summary>
public sealed class ConnectionSweeper(ConnectionRegistry registry, TimeProvider clock) : BackgroundService
{
    /// <summary>Time between two sweeps: one second.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = clock.GetUtcNow().ToUnixTimeSeconds();
                foreach (var connection in registry.All())
                {
                    if (connection.IsClosing) continue;
                    if (connection.TokenExpiresAt <= now) connection.Close(CloseCodes.PolicyViolation, "token expired", drain: false, SocketCloseReason.Expiry);
                    else if (!connection.CloseIfTooSlow()) connection.ReleaseExpiredCatchUp();
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
