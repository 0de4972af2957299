using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Chat.Server.Storage;

/// <summary>
/// The SQLite store's write side: group commit (<see cref="GroupCommitWriter"/>) on one connection that commits with
/// <c>synchronous=NORMAL</c>, and one fsync of the WAL (<see cref="SqliteDatabase.SyncWal"/>) for every group of batches
/// on the sync loop, with the default <c>Chat:Synchronous=FULL</c>. Ids come from <c>AUTOINCREMENT</c> in commit order.
/// </summary>
public sealed class SqliteMessageWriter(SqliteDatabase db, TimeProvider clock, IOptions<ChatOptions> options, Observability.ChatMetrics metrics, ILogger<SqliteMessageWriter> logger)
    : GroupCommitWriter(clock, options, metrics, logger)
{
    protected override IWriteSession OpenSession()
    {
        var connection = db.Open();
        try
        {
            using var pragma = connection.CreateCommand();
            if (db.DurableAcks)
            {
                // Commit without fsync; the sync loop fsyncs the WAL (MakeDurable) before anyone is told, on another
                // thread, so the next batch runs while the disk catches up.
                pragma.CommandText = "PRAGMA synchronous=NORMAL";
                pragma.ExecuteNonQuery();
            }
            // The writer touches the tail of several indexes on every send; SQLite's default 2 MB page
            // cache made it re-read pages from the OS on each statement. 64 MB keeps them in memory.
            pragma.CommandText = "PRAGMA cache_size=-65536";
            pragma.ExecuteNonQuery();
            // WalCheckpointer copies the WAL back on its own thread; this is only the safety valve.
            pragma.CommandText = $"PRAGMA wal_autocheckpoint={WalCheckpointer.WriterFallbackPages}";
            pragma.ExecuteNonQuery();
            return new WriterSession(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    protected override bool MakeDurable()
    {
        if (!db.DurableAcks) return false;
        db.SyncWal();
        return true;
    }

    protected override bool IsRefusal(Exception e) => e is SqliteException { SqliteErrorCode: 19 /* constraint */ };
}
