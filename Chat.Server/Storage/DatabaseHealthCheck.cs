using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Chat.Server.Storage;

/// <summary>
/// The database can be read and written (<see cref="IChatDatabase.ProbeWriteAsync"/>: the schema answers and the write
/// lock can be taken within a second; readers keep working while another process holds that lock, so a server that
/// cannot commit must not look healthy), and the writer has not stopped after a failed fsync
/// (<see cref="GroupCommitWriter.Failed"/>).
/// </summary>
public sealed class DatabaseHealthCheck(IChatDatabase db, GroupCommitWriter writer) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken ct = default)
    {
        if (writer.Failed) return HealthCheckResult.Unhealthy("The store stopped taking writes after a failed fsync; restart the server.");
        try
        {
            await db.ProbeWriteAsync(ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy("The database cannot be reached or is locked.");
        }
    }
}
