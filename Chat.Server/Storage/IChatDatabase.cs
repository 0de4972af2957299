using System.Data.Common;

namespace Chat.Server.Storage;

/// <summary>
/// What the shared stores (<see cref="UserStore"/>, <see cref="MessageStore"/>) need of a database engine: connections,
/// how it reports a unique-key clash, and whether reads must be bounded by this node's <see cref="StreamPosition"/>.
/// One implementation per <c>Chat:Database:Provider</c> (<see cref="SqliteDatabase"/>, <see cref="PostgresDatabase"/>).
/// Their SQL is written once, in the subset both engines accept.
/// </summary>
public interface IChatDatabase
{
    /// <summary>An open pooled connection; dispose it to return it.</summary>
    Task<DbConnection> OpenConnectionAsync(CancellationToken ct);

    /// <summary>True when <paramref name="e"/> is a unique-key (or other constraint) violation: the write was refused, not failed.</summary>
    bool IsConstraintViolation(Exception e);

    /// <summary>
    /// True when a committed row can still be lost (SQLite: committed, fsync pending), so reads stop at the stream
    /// position; false when whatever a reader can see is durable and below every id still to commit (PostgreSQL here).
    /// </summary>
    bool ReadsNeedStreamPosition { get; }

    /// <summary>
    /// Checks that the schema answers and that the write lock can be taken within a second (then releases it); throws
    /// when either fails (the health check, <see cref="DatabaseHealthCheck"/>).
    /// </summary>
    Task ProbeWriteAsync(CancellationToken ct);

    /// <summary>
    /// At start-up, before anything is served: applies the schema migrations, makes what a crash left behind durable,
    /// and returns the stream position to start at (the newest durable message id; 0 for none).
    /// </summary>
    long PrepareAtStart(ILogger logger, TimeProvider clock);
}
