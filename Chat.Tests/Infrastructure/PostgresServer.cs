using Npgsql;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// The run's shared throw-away PostgreSQL cluster (a <see cref="PostgresCluster"/> of Debian's <c>postgresql</c>
/// package, 127.0.0.1 only, a free port), started on first use and stopped when the run ends
/// (<see cref="TestRunCleanup"/>). Each test gets a fresh, empty schema of its own (<see cref="CreateDatabaseAsync"/>),
/// which is what a fresh database is to the server and costs milliseconds instead of a database copy. A test that
/// stops PostgreSQL takes a private cluster instead (<see cref="StartPrivateClusterAsync"/>).
/// </summary>
public static class PostgresServer
{
    private static readonly Lazy<string?> BinDirectory = new(FindBinDirectory);
    private static readonly Lazy<Task<PostgresCluster>> Cluster = new(() => StartPrivateClusterAsync());

    /// <summary>Null when PostgreSQL can run here; else the one-line reason the PostgreSQL tests are skipped.</summary>
    public static string? UnavailableReason =>
        BinDirectory.Value is null ? "PostgreSQL not installed (apt-get install postgresql): PostgreSQL tests skipped."
        : Environment.UserName == "root" && !File.Exists("/usr/sbin/runuser") && !File.Exists("/sbin/runuser") ? "runuser not found (needed to run PostgreSQL as root): PostgreSQL tests skipped."
        : null;

    /// <summary>An Npgsql connection string for a new empty schema (its own <c>search_path</c>) on the shared cluster.</summary>
    public static async Task<string> CreateDatabaseAsync() => await (await Cluster.Value).CreateDatabaseAsync();

    /// <summary>
    /// A new cluster of the test's own (initdb, a few seconds), for a test that stops and starts PostgreSQL; the caller
    /// disposes it (and <see cref="TestRunCleanup"/> stops it if the caller could not).
    /// </summary>
    public static Task<PostgresCluster> StartPrivateClusterAsync()
    {
        if (UnavailableReason is { } reason) throw new InvalidOperationException(reason);
        return PostgresCluster.CreateAsync(BinDirectory.Value!);
    }

    /// <summary>Drops a schema made by <see cref="CreateDatabaseAsync"/> (ignored when the cluster is gone).</summary>
    public static async Task DropDatabaseAsync(string connectionString)
    {
        if (!Cluster.IsValueCreated) return;
        var schema = new NpgsqlConnectionStringBuilder(connectionString).SearchPath;
        try
        {
            NpgsqlConnection.ClearAllPools();
            await using var connection = new NpgsqlConnection((await Cluster.Value).AdminConnectionString);
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {schema} CASCADE", connection);
            await drop.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException) { /* the cluster stopped: everything goes with it */ }
    }

    /// <summary>Stops every cluster of the run (the shared one and any private one left running) and deletes their directories.</summary>
    public static void Stop() => PostgresCluster.StopAll();

    private static string? FindBinDirectory()
    {
        var versions = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Where(d => File.Exists(Path.Combine(d, "bin", "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(d), out var v) ? v : 0).ToList()
            : [];
        return versions.Count > 0 ? Path.Combine(versions[0], "bin") : null;
    }
}
