using System.Data.Common;
using Chat.Server.Infrastructure;
using Dapper;
using Npgsql;

namespace Chat.Server.Storage;

/// <summary>
/// The shared store (<c>Chat:Database:Provider=Postgres</c>; contract section 1): <c>ConnectionStrings:Chat</c> is an
/// Npgsql connection string. One pooled <see cref="NpgsqlDataSource"/> serves the readers and the writer. A PostgreSQL
/// commit is durable when it returns (<c>synchronous_commit=on</c>, the server's default), and every write transaction
/// takes the <c>stream_position</c> row lock first (<see cref="PostgresWriterSession"/>), so ids commit in ascending
/// order across every node: whatever a reader can see is durable, and no smaller id can appear later.
/// </summary>
public sealed class PostgresDatabase : IChatDatabase, IDisposable
{
    private const string Accepted = "an Npgsql connection string such as \"Host=127.0.0.1;Database=chat;Username=chat;Password=...\"";
    private readonly NpgsqlDataSource _dataSource;

    /// <summary>Connections a node keeps at most when <c>ConnectionStrings:Chat</c> sets no <c>Maximum Pool Size</c>.</summary>
    public const int DefaultMaxPoolSize = 20;

    private static readonly string[] PoolSizeKeys = ["Maximum Pool Size", "Max Pool Size", "MaxPoolSize"];

    /// <summary>How long a write waits for the <c>stream_position</c> lock (<see cref="ChatOptions.BusyTimeout"/>).</summary>
    public TimeSpan LockTimeout { get; }

    public PostgresDatabase(IConfiguration configuration, Microsoft.Extensions.Options.IOptions<ChatOptions> options)
    {
        LockTimeout = options.Value.BusyTimeout;
        var connectionString = configuration.GetConnectionString("Chat");
        if (string.IsNullOrWhiteSpace(connectionString)) throw new InvalidSettingException("ConnectionStrings:Chat", Accepted);
        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new InvalidSettingException("ConnectionStrings:Chat", Accepted, e);
        }
        if (string.IsNullOrWhiteSpace(builder.Host)) throw new InvalidSettingException("ConnectionStrings:Chat", Accepted);
        // Npgsql's default pool (100) on each of two nodes already passes PostgreSQL's default max_connections (100):
        // unless the connection string says otherwise, a node keeps at most DefaultMaxPoolSize connections.
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!PoolSizeKeys.Any(given.ContainsKey)) builder.MaxPoolSize = DefaultMaxPoolSize;
        // The writer and the hot reads run the same few statements: prepared once per physical connection.
        if (builder.MaxAutoPrepare == 0) builder.MaxAutoPrepare = 64;
        _dataSource = NpgsqlDataSource.Create(builder);
    }

    public NpgsqlConnection Open() => _dataSource.OpenConnection();

    public async Task<DbConnection> OpenConnectionAsync(CancellationToken ct) => await _dataSource.OpenConnectionAsync(ct);

    public bool IsConstraintViolation(Exception e) => e is PostgresException { SqlState: PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation or PostgresErrorCodes.CheckViolation };

    /// <summary>False: a visible row is committed, so durable, and ids commit in order (see the class remarks).</summary>
    public bool ReadsNeedStreamPosition => false;

    /// <summary>The write lock is the <c>stream_position</c> row every write transaction takes, waited for at most a second.</summary>
    public async Task ProbeWriteAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync("SET LOCAL lock_timeout = '1s'", transaction: tx);
        await connection.ExecuteScalarAsync<long>("SELECT position FROM stream_position FOR UPDATE", transaction: tx, commandTimeout: 2);
        await tx.RollbackAsync(ct);
    }

    public long PrepareAtStart(ILogger logger, TimeProvider clock)
    {
        using var connection = Open();
        PostgresMigrations.Apply(connection, logger, clock: clock);
        return connection.ExecuteScalar<long>("SELECT position FROM stream_position");
    }

    /// <summary>The stream position every node's writes have committed up to (the <c>stream_position</c> row): a message id.</summary>
    public async Task<long> ReadStreamPositionAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<long>(new CommandDefinition("SELECT position FROM stream_position", cancellationToken: ct));
    }

    /// <summary>The database's cluster id (made once by migration 2): the prefix of the cluster's Redis keys.</summary>
    public async Task<string> ReadClusterIdAsync(CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<string>(new CommandDefinition("SELECT id FROM cluster_identity", cancellationToken: ct)) ?? "";
    }

    /// <summary>Which of <paramref name="tokenIds"/> are revoked (logged out).</summary>
    public async Task<IReadOnlyList<long>> RevokedTokensAsync(long[] tokenIds, CancellationToken ct)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(ct);
        return (await connection.QueryAsync<long>(new CommandDefinition(
            "SELECT id FROM tokens WHERE id = ANY(@tokenIds) AND revoked_at IS NOT NULL", new { tokenIds }, cancellationToken: ct))).AsList();
    }

    public void Dispose() => _dataSource.Dispose();
}
