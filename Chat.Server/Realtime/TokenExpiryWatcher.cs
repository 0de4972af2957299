using Chat.Protocol;

namespace Chat.Server.Realtime;

/// <summary>
/// Closes sockets whose token has expired (1008), checking every open socket once a second. One timer for
/// all sockets instead of one per socket: a timer and its cancellation source were ~300 bytes of every idle socket.
/// </summary>
public sealed class TokenExpiryWatcher(ConnectionRegistry registry, TimeProvider clock) : BackgroundService
{
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
                    if (connection.TokenExpiresAt <= now && !connection.IsClosing)
                        connection.Close(CloseCodes.PolicyViolation, "token expired", drain: false);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }
    }
}
