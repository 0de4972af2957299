using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// One throw-away PostgreSQL cluster (Debian's <c>postgresql</c> package): <c>initdb</c> into a temporary directory
/// (as the <c>postgres</c> OS user when the tests run as root, since PostgreSQL refuses to run as root), listening on
/// 127.0.0.1 only, on a free port that stays the same when it is stopped and started again. The run's shared cluster is
/// <see cref="PostgresServer"/>; a test that takes PostgreSQL away (a fault test) gets a private one of these from
/// <see cref="PostgresServer.StartPrivateClusterAsync"/>, so the other tests keep theirs. Every cluster still running
/// when the test run ends is stopped (<see cref="TestRunCleanup"/>).
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<PostgresCluster, byte> Running = new();
    private readonly string _bin;
    private readonly string _directory;
    private readonly string _dataDirectory;
    private readonly string? _runAs;

    private PostgresCluster(string bin, string directory, int port, string? runAs)
    {
        _bin = bin;
        _directory = directory;
        _dataDirectory = Path.Combine(directory, "data");
        Port = port;
        _runAs = runAs;
    }

    /// <summary>The TCP port, the same across <see cref="StopAsync"/> and <see cref="StartAsync()"/>.</summary>
    public int Port { get; }

    /// <summary>The superuser's Npgsql connection string to the <c>postgres</c> database.</summary>
    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=true;Timeout=15";

    /// <summary>True between a start and a stop.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>Runs <c>initdb</c> in a new temporary directory and starts the cluster on a free port.</summary>
    internal static async Task<PostgresCluster> CreateAsync(string bin)
    {
        var directory = Path.Combine(Path.GetTempPath(), $"chat-tests-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var runAs = Environment.UserName == "root" ? "postgres" : null;
        if (runAs is not null) Run(null, "chown", $"{runAs} {directory}");
        var cluster = new PostgresCluster(bin, directory, FreePort(), runAs);
        Run(runAs, Path.Combine(bin, "initdb"), $"-D {cluster._dataDirectory} -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N");
        await cluster.StartAsync();
        return cluster;
    }

    /// <summary>An Npgsql connection string for a new empty schema (its own <c>search_path</c>) on this cluster.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var schema = $"t_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(AdminConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(AdminConnectionString) { SearchPath = schema }.ToString();
    }

    /// <summary>Starts the cluster (again) on <see cref="Port"/> and waits until it takes connections.</summary>
    public Task StartAsync()
    {
        // fsync stays on: the tests check durability on this cluster as a user would run it.
        Run(_runAs, Path.Combine(_bin, "pg_ctl"),
            $"-D {_dataDirectory} -l {Path.Combine(_directory, "server.log")} -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p {Port} -k {_directory} -c max_connections=500\" start");
        IsRunning = true;
        Running[this] = 0;
        return Task.CompletedTask;
    }

    /// <summary>
    /// Stops the cluster: <c>fast</c> ends every session and shuts down cleanly (an administrator's stop),
    /// <c>immediate</c> stops without a checkpoint (as a crash would).
    /// </summary>
    public Task StopAsync(string mode = "fast")
    {
        if (!IsRunning) return Task.CompletedTask;
        Run(_runAs, Path.Combine(_bin, "pg_ctl"), $"-D {_dataDirectory} -m {mode} -w stop", throwOnError: false);
        IsRunning = false;
        Running.TryRemove(this, out _);
        return Task.CompletedTask;
    }

    /// <summary>The server log so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            try { return File.ReadAllText(Path.Combine(_directory, "server.log")); }
            catch (IOException) { return ""; }
        }
    }

    /// <summary>Stops the cluster at once and deletes its directory.</summary>
    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await StopAsync("immediate");
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Stops every cluster still running (end of the test run).</summary>
    public static void StopAll()
    {
        foreach (var cluster in Running.Keys) cluster.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private static void Run(string? runAs, string file, string arguments, bool throwOnError = true)
    {
        var start = runAs is null
            ? new ProcessStartInfo(file, arguments)
            : new ProcessStartInfo("runuser", $"-u {runAs} -- {file} {arguments}");
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) process.Kill(entireProcessTree: true);
        if (throwOnError && process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({process.ExitCode}): {error.Result}{output.Result}");
    }

    private static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }
}
