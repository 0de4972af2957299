using System.Threading.Channels;
using Chat.Server.Realtime;
using Chat.Server.Storage;
using StackExchange.Redis;

namespace Chat.Server.Cluster;

/// <summary>
/// Presence across nodes (contract section 5): a user is online while any socket of theirs is open on any live node.
/// Each node keeps its share in Redis, a hash <c>{prefix}node:{node id}</c> of user id to username, and heartbeats in the
/// sorted set <c>{prefix}nodes</c> (<see cref="NodeHeartbeat"/>); a node that stops heartbeating stops counting, and the
/// node that notices removes its share and announces its users again.
/// </summary>
/// <remarks>
/// A change is announced as "work this user out again" (<see cref="BusKind.PresenceChanged"/>), never as a state: every
/// node, on hearing it, reads the user's state across the cluster as it is now and tells its own sockets of the user's
/// partners. One loop per node does this one change at a time, so the last frame a partner gets follows the last change:
/// a user flapping between nodes is never left shown offline while connected, and an "offline" result is sent only if it
/// still holds <see cref="OfflineGrace"/> later, so a user moving between nodes is not shown offline at all. Presence
/// frames are ephemeral: while Redis
/// is unreachable none are sent (a state read then could be wrong), and when it is back this node rewrites its share and
/// announces it (<see cref="Rejoin"/>).
/// </remarks>
public sealed partial class ClusterPresence(
    ConnectionRegistry registry,
    IMessageStore store,
    RedisBackplane backplane,
    TimeProvider clock,
    ILogger<ClusterPresence> logger) : BackgroundService, IPresence
{
    /// <summary>
    /// How long an "offline" result waits to be confirmed before partners are told: 1 second. A user moving to another
    /// node opens the new socket there while the old one closes here; the new node writes its share a moment later, and
    /// a user with a socket open must not be shown offline meanwhile.
    /// </summary>
    public static readonly TimeSpan OfflineGrace = TimeSpan.FromSeconds(1);

    private const string OnlineScript =
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local nodes = redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
        local result = {}
        for i = 2, #ARGV do
          local online = 0
          for _, n in ipairs(nodes) do
            if redis.call('HEXISTS', ARGV[1] .. n, ARGV[i]) == 1 then online = 1; break end
          end
          result[#result + 1] = online
        end
        return result
        """;

    // What this node last told its partners' sockets of each user shown online (the presence loop's alone): one online
    // frame per coming online, not one per socket another node opens.
    private readonly Dictionary<long, bool> _toldOnline = [];
    private readonly Channel<Change> _changes = Channel.CreateUnbounded<Change>(new UnboundedChannelOptions { SingleReader = true });


    /// <summary>This node's share: <c>{prefix}node:{node id}</c>.</summary>
    public RedisKey ShareKey(Guid node) => SharePrefix + node.ToString("N");

    /// <summary>What every node's share key starts with (the scripts append the node id).</summary>
    public string SharePrefix => backplane.Prefix + "node:";

    public RedisKey NodesKey => backplane.Prefix + "nodes";

    public Task AnnounceAsync(long userId, string username)
    {
        _changes.Writer.TryWrite(new Change(userId, username, Local: true));
        return Task.CompletedTask;
    }

    /// <summary>Another node changed the user's sockets (from the bus), or a dead node's share was removed.</summary>
    public void Reevaluate(long userId, string username) => _changes.Writer.TryWrite(new Change(userId, username, Local: false));

    /// <summary>Rewrites this node's share from its sockets and announces every user in the old or new share (after Redis came back, or this node was presumed dead).</summary>
    public void Rejoin() => _changes.Writer.TryWrite(new Change(0, "", Local: true, Rejoin: true));

    public async Task<IReadOnlyList<OutboundFrame>> SnapshotAsync(long userId, CancellationToken ct)
    {
        var partners = await store.PartnersAsync(userId, ct);
        var elsewhere = partners.Where(p => !registry.IsOnline(p.Id)).ToList();
        var remoteOnline = new HashSet<long>();
        if (elsewhere.Count > 0)
        {
            try
            {
                var flags = await OnlineAsync(elsewhere.Select(p => p.Id).ToList());
                for (var i = 0; i < elsewhere.Count; i++) if (flags[i]) remoteOnline.Add(elsewhere[i].Id);
            }
            catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
            {
                LogRedisFailed(logger, e.GetType().Name);
            }
        }
        return partners.Where(p => registry.IsOnline(p.Id) || remoteOnline.Contains(p.Id)).Select(p => Frames.Presence(p.Username, true)).ToList();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (await _changes.Reader.WaitToReadAsync(stoppingToken))
                while (_changes.Reader.TryRead(out var change))
                {
                    try
                    {
                        if (change.Rejoin) await RejoinAsync();
                        else if (change.ConfirmOffline) await TellPartnersAsync(change.UserId, change.Username, confirmed: true);
                        else await ApplyAsync(change);
                    }
                    catch (Exception e) when (e is RedisException or TimeoutException
                                                  || (e is OperationCanceledException && !stoppingToken.IsCancellationRequested))
                    {
                        // Redis refused, failed or timed out (a hung Redis cancels the call): this change is skipped.
                        LogRedisFailed(logger, e.GetType().Name);
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        LogFailed(logger, e);
                    }
                }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
    }

    private async Task ApplyAsync(Change change)
    {
        var db = backplane.Database;
        if (change.Local)
        {
            // The state now, not at the time of the change: the last change processed writes the real state.
            if (registry.IsOnline(change.UserId)) await db.HashSetAsync(ShareKey(backplane.NodeId), change.UserId, change.Username);
            else await db.HashDeleteAsync(ShareKey(backplane.NodeId), change.UserId);
            backplane.Publish(BusCodec.PresenceChanged(backplane.NodeId, change.UserId, change.Username));
        }
        await TellPartnersAsync(change.UserId, change.Username);
    }

    /// <param name="confirmed">False: an offline result is checked again after <see cref="OfflineGrace"/> before it is sent.</param>
    private async Task TellPartnersAsync(long userId, string username, bool confirmed = false)
    {
        var partners = await store.PartnersAsync(userId, CancellationToken.None);
        if (!partners.Any(p => registry.IsOnline(p.Id))) return;
        var online = registry.IsOnline(userId) || (await OnlineAsync([userId]))[0];
        if (!online && !confirmed)
        {
            _ = ConfirmOfflineLaterAsync(userId, username);
            return;
        }
        if (online && !_toldOnline.TryAdd(userId, true)) return;
        if (!online) _toldOnline.Remove(userId);
        var frame = Frames.Presence(username, online);
        foreach (var partner in partners) registry.SendToUser(partner.Id, frame);
    }

    private async Task RejoinAsync()
    {
        var db = backplane.Database;
        var share = ShareKey(backplane.NodeId);
        var before = await db.HashGetAllAsync(share);
        var now = registry.All().GroupBy(c => c.UserId).Select(g => new HashEntry(g.Key, g.First().Username)).ToArray();
        var transaction = db.CreateTransaction();
        _ = transaction.KeyDeleteAsync(share);
        if (now.Length > 0) _ = transaction.HashSetAsync(share, now);
        await transaction.ExecuteAsync();
        var users = before.Concat(now).GroupBy(e => (long)e.Name).Select(g => (Id: g.Key, Name: (string)g.First().Value!));
        foreach (var (id, name) in users)
        {
            backplane.Publish(BusCodec.PresenceChanged(backplane.NodeId, id, name));
            await TellPartnersAsync(id, name);
        }
    }

    private async Task ConfirmOfflineLaterAsync(long userId, string username)
    {
        await Task.Delay(OfflineGrace, clock);
        _changes.Writer.TryWrite(new Change(userId, username, Local: false, ConfirmOffline: true));
    }

    /// <summary>Whether each user has a socket on any live node (this one included), from this node's Redis view.</summary>
    private async Task<bool[]> OnlineAsync(IReadOnlyList<long> userIds)
    {
        var args = new RedisValue[userIds.Count + 1];
        args[0] = SharePrefix;
        for (var i = 0; i < userIds.Count; i++) args[i + 1] = userIds[i];
        var result = (RedisResult[])(await backplane.Database.ScriptEvaluateAsync(OnlineScript, [NodesKey], args))!;
        return result.Select(r => (long)r == 1).ToArray();
    }

    private readonly record struct Change(long UserId, string Username, bool Local, bool Rejoin = false, bool ConfirmOffline = false);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Presence skipped: Redis unreachable ({Error})")]
    private static partial void LogRedisFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Presence announcement failed")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
