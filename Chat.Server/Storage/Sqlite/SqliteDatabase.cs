using Dapper;
using Microsoft.Data.Sqlite;
using Chat.Server.Infrastructure;
using Microsoft.Extensions.Options;

namespace Chat.Server.Storage;

/// <summary>
/// The embedded default store (<c>Chat:Database:Provider=Sqlite</c>): opens configured SQLite connections. Reads use the
/// provider's connection pool; the writer keeps its own.
/// </summary>
public class SqliteDatabase : IChatDatabase
{
    private readonly string _connectionString;
    private readonly string? _pragmas;

    public SqliteDatabase(IConfiguration configuration, IOptions<ChatOptions> options)
    {
        SqliteConnectionStringBuilder builder;
        try
        {
            builder = new SqliteConnectionStringBuilder(configuration.GetConnectionString("Chat") ?? "Data Source=chat.db")
            {
                Pooling = true,
                // Busy waits happen inside the provider, bounded by this (seconds).
                DefaultTimeout = Math.Max(1, (int)Math.Ceiling(options.Value.BusyTimeout.TotalSeconds)),
                // Applied once per physical connection by the provider, not on every open from the pool.
                ForeignKeys = true,
            };
        }
        catch (ArgumentException e)
        {
            throw new InvalidSettingException("ConnectionStrings:Chat", "an SQLite connection string such as \"Data Source=chat.db\"", e);
        }
        // The server opens many connections (a writer, a checkpointer, pooled readers) that must share one database:
        // an in-memory or temporary one would be a different, empty database on each (health 503 for good).
        if (string.IsNullOrEmpty(builder.DataSource) || builder.DataSource == ":memory:" || builder.Mode == SqliteOpenMode.Memory)
            throw new InvalidSettingException("ConnectionStrings:Chat", "an SQLite connection string naming a database file, such as \"Data Source=chat.db\" (not in-memory or temporary)");
        if (builder.Mode == SqliteOpenMode.ReadWriteCreate)
        {
            var dir = Path.GetDirectoryName(Path.GetFullPath(builder.DataSource));
            try
            {
                if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new InvalidSettingException("ConnectionStrings:Chat", $"a database file in a folder the server can create ({e.Message.TrimEnd('.')})", e);
            }
        }
        _connectionString = builder.ToString();
        DataSource = builder.DataSource;
        // synchronous=FULL fsyncs the WAL on every commit, so a committed (and so acknowledged)
        // message survives power loss; NORMAL survives a process crash only. Group commit keeps FULL cheap.
        // FULL is SQLite's default, so the common case costs no statement per open.
        var synchronous = options.Value.Synchronous.ToUpperInvariant();
        _pragmas = synchronous == "FULL" ? null : $"PRAGMA synchronous={synchronous};";
        DurableAcks = synchronous is "FULL" or "EXTRA";
        var file = builder.DataSource;
        WalPath = string.IsNullOrEmpty(file) || file == ":memory:" || builder.Mode == SqliteOpenMode.Memory ? null : Path.GetFullPath(file) + "-wal";
    }

    public string DataSource { get; }

    /// <summary>True when a write must be on disk (fsynced) before anyone is told about it: <c>synchronous</c> FULL or EXTRA.</summary>
    public bool DurableAcks { get; }

    /// <summary>The WAL file of an on-disk database; null for an in-memory one.</summary>
    public string? WalPath { get; }

    /// <summary>
    /// fsyncs the WAL: every transaction committed before the call is then on disk. Opened per call, so
    /// a WAL that SQLite deleted and recreated is never missed through a stale handle.
    /// </summary>
    public virtual void SyncWal() => FsyncWal();

    /// <summary>
    /// At start-up, before anything is shown: fsyncs what a crash may have left in the WAL (committed, maybe only in
    /// the OS's cache), so the stream position can start at the newest stored id. Not a test seam.
    /// </summary>
    public void SyncWalOnStart()
    {
        if (WalPath is not null && File.Exists(WalPath)) FsyncWal();
    }

    private void FsyncWal()
    {
        if (WalPath is null) return;
        using var wal = new FileStream(WalPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
        wal.Flush(flushToDisk: true);
    }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            if (_pragmas is not null) connection.Execute(_pragmas);
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public async Task<SqliteConnection> OpenAsync(CancellationToken ct = default)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(ct);
            if (_pragmas is not null) await connection.ExecuteAsync(_pragmas);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public async Task<System.Data.Common.DbConnection> OpenConnectionAsync(CancellationToken ct) => await OpenAsync(ct);

    public bool IsConstraintViolation(Exception e) => e is SqliteException { SqliteErrorCode: 19 /* SQLITE_CONSTRAINT */ };

    /// <summary>True: the writer commits before its fsync, so a committed row may not be durable yet.</summary>
    public bool ReadsNeedStreamPosition => true;

    /// <summary>The write lock is SQLite's own (<c>BEGIN IMMEDIATE</c>), waited for at most a second.</summary>
    public async Task ProbeWriteAsync(CancellationToken ct)
    {
        await using var connection = await OpenAsync(ct);
        await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_version");
        // Separate commands: PRAGMA busy_timeout returns a row, and the provider then swallows the error of a
        // later statement in the same command (BEGIN IMMEDIATE's "database is locked").
        await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout=1000");
        await connection.ExecuteAsync("BEGIN IMMEDIATE; ROLLBACK;", commandTimeout: 1);
    }

    public long PrepareAtStart(ILogger logger, TimeProvider clock)
    {
        using var connection = Open();
        SqliteMigrations.Apply(connection, logger, clock: clock);
        SyncWalOnStart();
        return connection.ExecuteScalar<long?>("SELECT MAX(id) FROM messages") ?? 0;
    }
}
