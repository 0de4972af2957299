using Chat.Server.Realtime;
using Chat.Server.Storage;
using StackExchange.Redis;

namespace Chat.Server.Cluster;

/// <summary>
/// Joins the cluster at start (reads the database's cluster id, the prefix of every key and channel) and reads the bus:
/// each message from another node goes to the one part of this node that acts on it — stream batches to the
/// <see cref="StreamSequencer"/>, frames to the registry, revoked tokens to their sockets, changed users out of the cache,
/// presence changes to <see cref="ClusterPresence"/>. It also tells the sequencer and presence when Redis goes and comes
/// back (the library reconnects and resubscribes by itself), and asks the <see cref="SessionReconciler"/> to make up for
/// the logouts and profile changes the bus lost meanwhile.
/// </summary>
public sealed partial class BusListener(
    RedisBackplane backplane,
    PostgresDatabase database,
    StreamSequencer sequencer,
    ConnectionRegistry registry,
    CachingUserStore users,
    ClusterPresence presence,
    SessionReconciler reconciler,
    ILogger<BusListener> logger) : IHostedLifecycleService
{
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>After the storage initializer (registered before): the schema, with the cluster id, exists.</summary>
    public async Task StartingAsync(CancellationToken cancellationToken)
    {
        backplane.SetClusterId(await database.ReadClusterIdAsync(cancellationToken));
        backplane.Connection.ConnectionFailed += (_, e) =>
        {
            if (e.ConnectionType != ConnectionType.Subscription) return;
            LogLost(logger, e.FailureType.ToString());
            sequencer.BackplaneLost();
        };
        backplane.Connection.ConnectionRestored += (_, e) =>
        {
            if (e.ConnectionType == ConnectionType.Subscription)
            {
                LogRestored(logger);
                sequencer.BackplaneRestored();
                reconciler.Request();
            }
            else
            {
                presence.Rejoin();
            }
        };
        if (!backplane.IsConnected) sequencer.BackplaneLost();
        _ = SubscribeAsync();
    }

    /// <summary>Subscribes to the bus, trying again every second while Redis cannot be reached (a node may start before it).</summary>
    private async Task SubscribeAsync()
    {
        var attempt = 0;
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                var queue = await backplane.Connection.GetSubscriber().SubscribeAsync(backplane.Bus);
                queue.OnMessage(Handle);
                // Subscribed (perhaps only now, if Redis was down at start): gaps wait for the bus again.
                sequencer.BackplaneRestored();
                return;
            }
            catch (Exception e) when (!_stopping.IsCancellationRequested)
            {
                // Once, not every second: the connection events say when Redis comes back.
                if (attempt++ == 0) LogLost(logger, e.GetType().Name);
                try { await Task.Delay(TimeSpan.FromSeconds(1), _stopping.Token); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private void Handle(ChannelMessage message)
    {
        BusMessage m;
        try
        {
            m = BusCodec.Decode(((byte[])message.Message!).AsSpan());
        }
        catch (Exception e) when (e is FormatException or ArgumentException)
        {
            LogBadMessage(logger, e.Message);
            return;
        }
        if (m.Origin == backplane.NodeId) return;
        switch (m.Kind)
        {
            case BusKind.Batch:
                sequencer.Remote(m.Batch!);
                break;
            case BusKind.UserFrame:
                registry.SendToUser(m.UserId, m.Frame);
                break;
            case BusKind.TokenRevoked:
                registry.CloseToken(m.UserId, m.TokenId, Chat.Protocol.CloseCodes.PolicyViolation, "token revoked");
                break;
            case BusKind.UserChanged:
                users.Forget(m.UserId);
                break;
            case BusKind.PresenceChanged:
                presence.Reevaluate(m.UserId, m.Username);
                break;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        return Task.CompletedTask;
    }

    [LoggerMessage(EventId = Observability.ChatEventIds.BackplaneLost, EventName = "BackplaneLost", Level = LogLevel.Warning, Message = "Lost the Redis backplane ({Reason}); sends go on, live frames are filled from the database")]
    private static partial void LogLost(ILogger logger, string reason);

    [LoggerMessage(EventId = Observability.ChatEventIds.BackplaneBack, EventName = "BackplaneBack", Level = LogLevel.Information, Message = "The Redis backplane is back; filling what it missed from the database")]
    private static partial void LogRestored(ILogger logger);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Ignored a bus message that does not parse: {Error}")]
    private static partial void LogBadMessage(ILogger logger, string error);
}
