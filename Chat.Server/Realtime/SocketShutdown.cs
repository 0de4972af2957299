using Microsoft.Extensions.Options;

namespace Chat.Server.Realtime;

/// <summary>
/// Graceful shutdown of the sockets (contract, "Limits and closing": close 1001 after finishing in-flight sends). Runs in
/// the host's <c>StoppingAsync</c>, before any hosted service stops: the store and the publisher still run, so every
/// send in flight is committed and acknowledged; each socket then drains its queue and closes with 1001, and Kestrel's
/// own stop waits for them. Bounded by twice <see cref="ChatOptions.CloseTimeout"/>. First, for
/// <see cref="ChatOptions.DrainDelay"/>, the server keeps serving while <c>/healthz/ready</c> already answers 503
/// (<see cref="Hosting.Draining"/>), so a load balancer takes it out of rotation before its sockets close.
/// </summary>
public sealed class SocketShutdown(ConnectionRegistry registry, Hosting.Draining draining, IOptions<ChatOptions> options, TimeProvider clock) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        var timeout = options.Value.CloseTimeout;
        draining.Begin();
        try
        {
            if (options.Value.DrainDelay > TimeSpan.Zero) await Task.Delay(options.Value.DrainDelay, clock, cancellationToken);
            await registry.ShutdownAsync(timeout).WaitAsync(timeout * 2, cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            // Kestrel's stop aborts what is left.
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
