using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Chat.Server.Cluster;

/// <summary>
/// Keeps this node counted (contract section 5, <c>Chat:Cluster:NodeTimeout</c>): every quarter of the node timeout it
/// stamps its id in <c>{prefix}nodes</c> with a deadline of half its timeout from now (Redis's clock; each node's own
/// timeout, so nodes with different settings judge each other right), and removes every node whose deadline passed,
/// with its presence share, announcing that node's users again (<see cref="ClusterPresence"/>). So a node killed
/// without goodbye stops counting within three quarters of the timeout. A node that finds it was itself presumed dead
/// (a pause, Redis lost) rewrites its share. At a graceful stop it removes itself.
/// </summary>
public sealed partial class NodeHeartbeat(
    RedisBackplane backplane,
    ClusterPresence presence,
    IOptions<ChatOptions> options,
    TimeProvider clock,
    ILogger<NodeHeartbeat> logger) : BackgroundService
{
    private const string BeatScript =
        """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local added = redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
        redis.call('PEXPIRE', ARGV[3] .. ARGV[1], ARGV[4])
        local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
        local gone = {}
        for _, n in ipairs(dead) do
          if n ~= ARGV[1] then
            redis.call('ZREM', KEYS[1], n)
            local users = redis.call('HGETALL', ARGV[3] .. n)
            redis.call('DEL', ARGV[3] .. n)
            for i = 1, #users do gone[#gone + 1] = users[i] end
          end
        end
        return {added, gone}
        """;

    private const string LeaveScript =
        """
        redis.call('ZREM', KEYS[1], ARGV[1])
        local users = redis.call('HGETALL', KEYS[2])
        redis.call('DEL', KEYS[2])
        return users
        """;

    /// <summary>How long after its last heartbeat this node is presumed dead (its deadline): half of <see cref="ClusterOptions.NodeTimeout"/>.</summary>
    public TimeSpan StaleAfter => options.Value.Cluster.NodeTimeout / 2;

    /// <summary>How often this node heartbeats: a quarter of <see cref="ClusterOptions.NodeTimeout"/>.</summary>
    public TimeSpan Interval => options.Value.Cluster.NodeTimeout / 4;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var first = true;
        using var timer = new PeriodicTimer(Interval, clock);
        do
        {
            try
            {
                var result = (RedisResult[])(await backplane.Database.ScriptEvaluateAsync(BeatScript, [presence.NodesKey],
                    [backplane.NodeId.ToString("N"), (long)StaleAfter.TotalMilliseconds, presence.SharePrefix, (long)(options.Value.Cluster.NodeTimeout.TotalMilliseconds * 2)]))!;
                if ((long)result[0] == 1 && !first)
                {
                    LogRejoined(logger);
                    presence.Rejoin();
                }
                first = false;
                var gone = (RedisValue[])result[1]!;
                for (var i = 0; i + 1 < gone.Length; i += 2)
                {
                    var userId = (long)gone[i];
                    var username = (string)gone[i + 1]!;
                    backplane.Publish(BusCodec.PresenceChanged(backplane.NodeId, userId, username));
                    presence.Reevaluate(userId, username);
                }
                if (gone.Length > 0) LogReaped(logger, gone.Length / 2);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Redis refused, failed or timed out (a hung Redis cancels the call): never a reason to stop the node.
                LogBeatFailed(logger, e.GetType().Name);
            }
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        try
        {
            var users = (RedisValue[])(await backplane.Database.ScriptEvaluateAsync(LeaveScript,
                [presence.NodesKey, presence.ShareKey(backplane.NodeId)], [backplane.NodeId.ToString("N")]))!;
            for (var i = 0; i + 1 < users.Length; i += 2)
                backplane.Publish(BusCodec.PresenceChanged(backplane.NodeId, (long)users[i], (string)users[i + 1]!));
        }
        catch (Exception e)
        {
            LogBeatFailed(logger, e.GetType().Name);
        }
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try { return await timer.WaitForNextTickAsync(ct); }
        catch (OperationCanceledException) { return false; }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "This node had been presumed dead by the cluster (no heartbeat in time); rewriting its presence")]
    private static partial void LogRejoined(ILogger logger);

    [LoggerMessage(EventId = Observability.ChatEventIds.NodeReaped, EventName = "NodeReaped", Level = LogLevel.Warning, Message = "Removed a node that stopped heartbeating; {Count} of its users announced again")]
    private static partial void LogReaped(ILogger logger, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Heartbeat skipped: Redis unreachable ({Error})")]
    private static partial void LogBeatFailed(ILogger logger, string error);
}
