using Microsoft.Extensions.Options;
using Npgsql;

namespace Chat.Server.Storage;

/// <summary>
/// The PostgreSQL store's write side: group commit (<see cref="GroupCommitWriter"/>) on one connection of its own. A
/// commit is durable when it returns, so there is nothing to fsync afterwards.
/// </summary>
public sealed class PostgresMessageWriter(PostgresDatabase db, TimeProvider clock, IOptions<ChatOptions> options, Observability.ChatMetrics metrics, ILogger<PostgresMessageWriter> logger)
    : GroupCommitWriter(clock, options, metrics, logger)
{
    protected override IWriteSession OpenSession()
    {
        var connection = db.Open();
        try
        {
            // A write waits for another node's transaction (the stream_position lock) at most Chat:BusyTimeout, as on
            // SQLite, then fails with internal instead of hanging for the command timeout.
            using var command = connection.CreateCommand();
            command.CommandText = $"SET lock_timeout = {(long)Math.Max(1, db.LockTimeout.TotalMilliseconds)}";
            command.ExecuteNonQuery();
            return new PostgresWriterSession(connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    protected override bool MakeDurable() => false;

    protected override bool IsRefusal(Exception e) => db.IsConstraintViolation(e);
}
