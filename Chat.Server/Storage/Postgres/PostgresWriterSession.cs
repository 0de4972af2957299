using System.Data.Common;
using Npgsql;

namespace Chat.Server.Storage;

/// <summary>
/// The writer's session on PostgreSQL. Every write transaction first locks the one <c>stream_position</c> row and, before
/// it commits, moves it to the newest id it inserted. The lock is held until commit, so write transactions of every node
/// run one after the other: ids (drawn from the sequence inside the lock) commit in ascending order, a reader never sees
/// an id while a smaller one can still appear, and the row holds the persisted-up-to position across writers. It also
/// makes find-or-create of a conversation and read-cursor moves race-free across nodes. Measured in
/// <c>docs/benchmarks.md</c>: one node's writer already commits one batch at a time, so the lock costs a statement.
/// </summary>
internal sealed class PostgresWriterSession : WriterSession
{
    private readonly DbCommand _lock;
    private readonly DbCommand _advance;

    public PostgresWriterSession(NpgsqlConnection connection) : base(connection)
    {
        _lock = Command("SELECT position FROM stream_position FOR UPDATE");
        _advance = Command("UPDATE stream_position SET position = @newest WHERE position < @newest", "@newest");
    }

    protected override void OnBegin(DbTransaction transaction)
    {
        _lock.Transaction = transaction;
        _lock.ExecuteScalar();
    }

    protected override void OnCommit(DbTransaction transaction, long newestMessageId)
    {
        if (newestMessageId == 0) return;
        _advance.Transaction = transaction;
        _advance.Parameters[0].Value = newestMessageId;
        _advance.ExecuteNonQuery();
    }

    public override void Dispose()
    {
        _lock.Dispose();
        _advance.Dispose();
        base.Dispose();
    }
}
