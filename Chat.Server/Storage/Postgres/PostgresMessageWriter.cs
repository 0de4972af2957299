using Microsoft.Extensions.Options;
using Npgsql;

namespace Chat.Server.Storage;

/// <summary>
/// The PostgreSQL store's write side: group commit (<see cref="GroupCommitWriter"/>) on one connection of its own. A
/// commit is durable when it returns, so there is nothing to fsync afterwards.
/// </summary>
public sealed class PostgresMessageWriter(PostgresDatabase db, TimeProvider clock, IOptions<ChatOptions> options, ILogger<PostgresMessageWriter> logger)
    : GroupCommitWriter(clock, options, logger)
{
    protected override IWriteSession OpenSession() => new PostgresWriterSession(db.Open());

    protected override void MakeDurable() { }

    protected override bool IsRefusal(Exception e) => db.IsConstraintViolation(e);
}
