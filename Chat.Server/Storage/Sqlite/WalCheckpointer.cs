using Dapper;

namespace Chat.Server.Storage;

/// <summary>
/// Copies the WAL back into the database file on its own connection and thread. Left to SQLite, the
/// checkpoint runs inside the commit that crosses the threshold, so the single writer (and every sender
/// waiting on it) paid for copying and fsyncing the pages; here it overlaps the next commits instead.
/// The writer keeps a much higher automatic threshold as a safety valve should this loop fall behind.
/// </summary>
public sealed partial class WalCheckpointer(SqliteDatabase db, TimeProvider clock, ILogger<WalCheckpointer> logger) : BackgroundService
{
    /// <summary>The writer's own automatic checkpoint threshold in pages: only reached if this loop falls behind.</summary>
    public const int WriterFallbackPages = 16_384;

    private static readonly TimeSpan Busy = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan Idle = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            var copied = 0;
            try
            {
                await using var connection = await db.OpenAsync(stoppingToken);
                // PASSIVE never waits for the writer or readers: it copies what it can and returns.
                var (_, log, checkpointed) = await connection.QuerySingleAsync<(long Busy, long Log, long Checkpointed)>("PRAGMA wal_checkpoint(PASSIVE)");
                copied = (int)Math.Max(0, checkpointed);
                if (log > WriterFallbackPages / 2) LogBehind(logger, log);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e)
            {
                // The writer's fallback threshold still bounds the WAL; try again later.
                LogFailed(logger, e);
            }
            try { await Task.Delay(copied > 0 ? Busy : Idle, clock, stoppingToken); }
            catch (OperationCanceledException) { break; }
        }
    }

    [LoggerMessage(EventId = Observability.ChatEventIds.CheckpointBehind, EventName = "CheckpointBehind", Level = LogLevel.Warning, Message = "The WAL holds {Pages} pages; checkpoints are falling behind the writer")]
    private static partial void LogBehind(ILogger logger, long pages);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Background WAL checkpoint failed")]
    private static partial void LogFailed(ILogger logger, Exception e);
}
