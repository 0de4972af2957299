using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Storage;

/// <summary>
/// The PostgreSQL database can be read and written: the schema answers, and the write lock (the <c>stream_position</c>
/// row every write transaction takes) can be taken within a second.
/// </summary>
public sealed class PostgresHealthCheck(PostgresDatabase db, GroupCommitWriter writer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (writer.Failed) return HealthCheckResult.Unhealthy("The store stopped taking writes after a failed fsync; restart the server.");
        try
        {
            await using var connection = await db.OpenConnectionAsync(ct);
            await using var tx = await connection.BeginTransactionAsync(ct);
            await connection.ExecuteAsync("SET LOCAL lock_timeout = '1s'", transaction: tx);
            await connection.ExecuteScalarAsync<long>("SELECT position FROM stream_position FOR UPDATE", transaction: tx, commandTimeout: 2);
            await tx.RollbackAsync(ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be reached or is locked.");
        }
    }
}
