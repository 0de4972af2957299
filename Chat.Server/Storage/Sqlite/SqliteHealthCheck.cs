using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Storage;

/// <summary>
/// The database can be read and written: the schema answers, and the write lock can be taken within a second (readers
/// keep working while another process holds that lock, so a server that cannot commit must not look healthy).
/// </summary>
public sealed class SqliteHealthCheck(SqliteDatabase db, GroupCommitWriter writer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (writer.Failed) return HealthCheckResult.Unhealthy("The store stopped taking writes after a failed fsync; restart the server.");
        try
        {
            await using var connection = await db.OpenAsync(ct);
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_version");
            // Separate commands: PRAGMA busy_timeout returns a row, and the provider then swallows the error of a
            // later statement in the same command (BEGIN IMMEDIATE's "database is locked").
            await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout=1000");
            await connection.ExecuteAsync("BEGIN IMMEDIATE; ROLLBACK;", commandTimeout: 1);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be reached or is locked.");
        }
    }
}
