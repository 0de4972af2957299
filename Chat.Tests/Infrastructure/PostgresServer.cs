using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// A throw-away PostgreSQL cluster for the tests (Debian's <c>postgresql</c> package): <c>initdb</c> into a temporary
/// directory (as the <c>postgres</c> OS user when the tests run as root, since PostgreSQL refuses to run as root),
/// listening on 127.0.0.1 only, on a free port, started on first use and stopped when the run ends
/// (<see cref="TestRunCleanup"/>). Each test gets a fresh, empty schema of its own (<see cref="CreateDatabaseAsync"/>),
/// which is what a fresh database is to the server and costs milliseconds instead of a database copy.
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<string?> BinDirectory = new(FindBinDirectory);
    private static readonly Lazy<Task<string>> Cluster = new(StartClusterAsync);
    private static string? _directory;
    private static string? _dataDirectory;
    private static string? _runAs;

    /// <summary>Null when PostgreSQL can run here; else the one-line reason the PostgreSQL tests are skipped.</summary>
    public static string? UnavailableReason =>
        BinDirectory.Value is null ? "PostgreSQL not installed (apt-get install postgresql): PostgreSQL tests skipped."
        : Environment.UserName == "root" && !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser") ? "runuser not found (needed to run PostgreSQL as root): PostgreSQL tests skipped."
        : null;

    /// <summary>An Npgsql connection string for a new empty schema (its own <c>search_path</c>) on the test cluster.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var admin = await Cluster.Value;
        var schema = $"t_{Guid.NewGuid():N}";
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE SCHEMA {schema}", connection);
            await create.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(admin) { SearchPath = schema }.ToString();
    }

    /// <summary>Drops a schema made by <see cref="CreateDatabaseAsync"/> (ignored when the cluster is gone).</summary>
    public static async Task DropDatabaseAsync(string connectionString)
    {
        if (!Cluster.IsValueCreated) return;
        var schema = new NpgsqlConnectionStringBuilder(connectionString).SearchPath;
        try
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection(await Cluster.Value);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException) { /* the cluster stopped: everything goes with it */ }
    }

    /// <summary>Stops the cluster and deletes its directory.</summary>
    public static void Stop()
    {
        if (_dataDirectory is null) return;
        NpgsqlConnection.ClearAllPools();
        Run(Path.Combine(BinDirectory.Value!, "pg_ctl"), $"-D {_dataDirectory} -m immediate -w stop", throwOnError: false);
        try { Directory.Delete(_directory!, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        _dataDirectory = null;
    }

    private static string? FindBinDirectory()
    {
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Where(d => File.Exists(Path.Combine(d, "bin", "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0).ToList()
            : [];
        return versions.Count > 0 ? Path.Combine(versions[0], "bin") : null;
    }

    private static async Task<string> StartClusterAsync()
    {
        if (UnavailableReason is { } reason) throw new InvalidOperationException(reason);
        var bin = BinDirectory.Value!;
        var directory = Path.Combine(Path.GetTempPath(), $"chat-tests-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        _directory = directory;
        if (Environment.UserName == "root")
        {
            _runAs = "postgres";
            Run("chown", $"postgres {directory}");
        }
        var data = Path.Combine(directory, "data");
        Run(Path.Combine(bin, "initdb"), $"-D {data} -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 -N");
        _dataDirectory = data;
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }
        // fsync stays on: the tests check durability on this cluster as a user would run it.
        Run(Path.Combine(bin, "pg_ctl"),
            $"-D {data} -l {Path.Combine(directory, "server.log")} -w -t 60 -o \"-c listen_addresses=127.0.0.1 -p {port} -k {directory} -c max_connections=500\" start");
        await Task.CompletedTask;
        return $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Timeout=15";
    }

    private static void Run(string file, string arguments, bool throwOnError = true)
    {
        var start = _runAs is null || file == "chown"
            ? new ProcessStartInfo(file, arguments)
            : new ProcessStartInfo("runuser", $"-u {_runAs} -- {file} {arguments}");
        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(120_000)) process.Kill(entireProcessTree: true);
        if (throwOnError && process.ExitCode != 0)
            throw new InvalidOperationException($"{Path.GetFileName(file)} failed ({process.ExitCode}): {error.Result}{output.Result}");
    }
}
