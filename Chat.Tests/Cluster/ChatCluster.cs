using System.Globalization;
using System.Text;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Cluster;

/// <summary>
/// Two real <c>Chat.Server</c> processes as cluster members (contract section 5): one fresh PostgreSQL schema (or a
/// private PostgreSQL cluster, <see cref="ClusterOptions.PrivatePostgres"/>), one throw-away Redis, and optionally nginx
/// in front with the documented config. Clients reach a chosen node (<see cref="A"/>, <see cref="B"/>) or the load
/// balancer (<see cref="Nginx"/>). Disposing stops everything and drops the database.
/// </summary>
public sealed class ChatCluster : IAsyncDisposable
{
    private NginxServer? _nginx;

    private ChatCluster(string database, PostgresCluster? privatePostgres, RedisServer? redis)
    {
        Database = database;
        PrivatePostgres = privatePostgres;
        Redis = redis;
    }

    /// <summary>Null when the cluster can run here; else the one-line reason (it contains "cluster tests skipped").</summary>
    public static string? UnavailableReason =>
        PostgresServer.UnavailableReason is { } postgres ? postgres.Replace("PostgreSQL tests skipped.", "cluster tests skipped.")
        : RedisServer.UnavailableReason ?? NginxServer.UnavailableReason;

    /// <summary>The nodes' Npgsql connection string (a schema of its own).</summary>
    public string Database { get; }

    /// <summary>The test's own PostgreSQL cluster, when it asked for one (to stop and start it).</summary>
    public PostgresCluster? PrivatePostgres { get; }

    /// <summary>The Redis the nodes share (null in a kit check without cluster mode).</summary>
    public RedisServer? Redis { get; }

    public ServerProcess NodeA { get; private set; } = null!;
    public ServerProcess NodeB { get; private set; } = null!;

    /// <summary>Node A, directly.</summary>
    public ChatEndpoint A { get; private set; } = null!;

    /// <summary>Node B, directly.</summary>
    public ChatEndpoint B { get; private set; } = null!;

    /// <summary>nginx in front of both nodes (round robin, no sticky sessions).</summary>
    public ChatEndpoint Nginx => _nginx is null
        ? throw new InvalidOperationException("This cluster was started without nginx (ClusterOptions.WithNginx).")
        : new ChatEndpoint("nginx", _nginx.BaseAddress);

    /// <summary>The nginx process, when started.</summary>
    public NginxServer? NginxProcess => _nginx;

    /// <summary>Starts the engines and both nodes (together: the migrations run once, under the nodes' lock).</summary>
    public static async Task<ChatCluster> StartAsync(ClusterOptions options)
    {
        PostgresCluster? privatePostgres = null;
        string database;
        if (options.PrivatePostgres)
        {
            privatePostgres = await PostgresServer.StartPrivateClusterAsync();
            database = await privatePostgres.CreateDatabaseAsync();
        }
        else
        {
            database = await PostgresServer.CreateDatabaseAsync();
        }
        var cluster = new ChatCluster(database, privatePostgres, options.WithRedis ? await RedisServer.StartNewAsync() : null);
        try
        {
            var arguments = cluster.NodeArguments(options);
            var nodes = await Task.WhenAll(ServerProcess.StartAsync(database, arguments), ServerProcess.StartAsync(database, arguments));
            (cluster.NodeA, cluster.NodeB) = (nodes[0], nodes[1]);
            cluster.A = new ChatEndpoint("node A", cluster.NodeA.BaseAddress);
            cluster.B = new ChatEndpoint("node B", cluster.NodeB.BaseAddress);
            if (options.WithNginx) cluster._nginx = await NginxServer.StartAsync([cluster.NodeA.BaseAddress, cluster.NodeB.BaseAddress]);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private string[] NodeArguments(ClusterOptions options)
    {
        var arguments = new List<string>();
        if (Redis is not null) arguments.Add($"--ConnectionStrings:Redis={Redis.ConfigurationString}");
        if (options.NodeTimeout is { } timeout) arguments.Add($"--Chat:Cluster:NodeTimeout={timeout.ToString("c", CultureInfo.InvariantCulture)}");
        arguments.AddRange(options.Settings.Select(s => $"--{s.Key}={s.Value}"));
        return [.. arguments];
    }

    /// <summary>The other node's endpoint.</summary>
    public ChatEndpoint Other(ChatEndpoint node) => node == A ? B : A;

    /// <summary>What every process wrote so far, for a failing test's output.</summary>
    public string Diagnostics()
    {
        var text = new StringBuilder();
        void Section(string name, string? body)
        {
            if (string.IsNullOrWhiteSpace(body)) return;
            var tail = body.Length > 20_000 ? body[^20_000..] : body;
            text.AppendLine($"----- {name} -----").AppendLine(tail);
        }
        Section("node A", NodeA?.Output);
        Section("node B", NodeB?.Output);
        Section("nginx error log", _nginx?.ErrorLog);
        Section("redis log", Redis?.Log);
        Section("private PostgreSQL log", PrivatePostgres?.Log);
        return text.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        if (NodeA is not null) await NodeA.DisposeAsync();
        if (NodeB is not null) await NodeB.DisposeAsync();
        if (_nginx is not null) await _nginx.DisposeAsync();
        if (Redis is not null) await Redis.DisposeAsync();
        if (PrivatePostgres is not null) await PrivatePostgres.DisposeAsync();
        else await PostgresServer.DropDatabaseAsync(Database);
    }
}
