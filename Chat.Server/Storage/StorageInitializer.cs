namespace Chat.Server.Storage;

/// <summary>
/// Prepares the database before anything is served: it runs in the host's <c>StartingAsync</c>, before any hosted
/// service starts (the writer) and before Kestrel listens. It applies the schema migrations, makes what a crash left
/// behind durable, and starts the <see cref="StreamPosition"/> at the newest durable message
/// (<see cref="IChatDatabase.PrepareAtStart"/>). A database that cannot be
/// opened or migrated stops the start (one line, see <see cref="Infrastructure.StartupFailure"/>).
/// </summary>
public sealed class StorageInitializer(IChatDatabase database, StreamPosition position, TimeProvider clock, ILogger<StorageInitializer> logger) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken)
    {
        position.Advance(database.PrepareAtStart(logger, clock));
        return Task.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
