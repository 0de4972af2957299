using Dapper;
using Microsoft.Data.Sqlite;

namespace Chat.Server.Storage;

/// <summary>
/// <c>dotnet Chat.Server.dll backup PATH</c>: an online backup of the live SQLite database into a new file, safe while the
/// server runs and sends flow (a file copy of a database in WAL mode is not: the newest commits live in the <c>-wal</c>
/// file, and a copy taken mid-checkpoint can be torn). It uses SQLite's online backup API
/// (<see cref="SqliteConnection.BackupDatabase(SqliteConnection)"/>, all pages in one step, so in one read transaction):
/// the copy is the database as of one commit, holding every message acknowledged before the backup began; the server's
/// writers are never blocked (WAL readers do not block writers). The database is the one the server would open:
/// <c>ConnectionStrings:Chat</c> from the same sources (appsettings.json beside the binary, environment variables,
/// <c>--ConnectionStrings:Chat=...</c> after the path). The copy is written beside PATH under a temporary name, checked
/// with <c>PRAGMA integrity_check</c>, then renamed to PATH, so PATH is either absent or a whole, checked database;
/// an existing PATH is never overwritten. PostgreSQL has its own tools (<c>pg_dump</c>): the command refuses it.
/// </summary>
public static class SqliteBackup
{
    /// <summary>The command's name on the command line.</summary>
    public const string Command = "backup";

    /// <summary>Runs the command; returns the process exit code (0 backed up; 1 with one line on stderr otherwise).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        if (await SqliteCommandLine.ReadAsync(args, Command, "PATH [--ConnectionStrings:Chat=\"Data Source=chat.db\"]", "pg_dump", error) is not { } read)
            return 1;
        var (path, configuration) = read;
        try
        {
            var result = await BackUpAsync(SqliteCommandLine.ConnectionString(configuration), path);
            await output.WriteLineAsync($"Backed up {result.Source} to {Path.GetFullPath(path)}: integrity ok, {result.Messages} messages, newest message id {result.NewestMessageId}.");
            return 0;
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"{Command} failed: {e.Message.ReplaceLineEndings(" ").Trim()}");
            return 1;
        }
    }

    /// <summary>What a backup holds.</summary>
    /// <param name="Source">The database file backed up (full path).</param>
    /// <param name="Messages">Messages in the copy.</param>
    /// <param name="NewestMessageId">The largest message id in the copy (0 when none).</param>
    public sealed record Result(string Source, long Messages, long NewestMessageId);

    /// <summary>
    /// Copies the database named by <paramref name="connectionString"/> into the new file <paramref name="path"/>.
    /// Throws <see cref="InvalidOperationException"/> when there is no database, PATH exists, or the copy fails its check.
    /// </summary>
    public static async Task<Result> BackUpAsync(string connectionString, string path)
    {
        SqliteConnectionStringBuilder source;
        try { source = new SqliteConnectionStringBuilder(connectionString) { Mode = SqliteOpenMode.ReadWrite, Pooling = false }; }
        catch (ArgumentException) { throw new InvalidOperationException("ConnectionStrings:Chat is not an SQLite connection string such as \"Data Source=chat.db\"."); }
        if (string.IsNullOrEmpty(source.DataSource) || !File.Exists(source.DataSource))
            throw new InvalidOperationException($"no database at {Path.GetFullPath(source.DataSource ?? "")}.");
        var target = Path.GetFullPath(path);
        if (File.Exists(target) || Directory.Exists(target)) throw new InvalidOperationException($"{target} already exists; choose a new file.");
        var directory = Path.GetDirectoryName(target)!;
        if (!Directory.Exists(directory)) throw new InvalidOperationException($"no directory {directory}.");

        var temporary = Path.Combine(directory, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.partial");
        try
        {
            await using (var from = new SqliteConnection(source.ToString()))
            await using (var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = temporary, Pooling = false }.ToString()))
            {
                await from.OpenAsync();
                // The server may hold the write lock for a moment; reading the snapshot waits for it like the server's own writes do.
                await from.ExecuteAsync("PRAGMA busy_timeout = 10000");
                await to.OpenAsync();
                from.BackupDatabase(to);
            }
            Result result;
            await using (var check = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = temporary, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString()))
            {
                await check.OpenAsync();
                await CheckIntegrityAsync(check, "the copy");
                // A single self-contained file: in WAL mode every later open (a check, a restore) would leave -wal and -shm
                // files beside it, and it could not be opened from read-only media. The server turns WAL on again when it
                // opens a restored copy.
                await check.ExecuteAsync("PRAGMA journal_mode = DELETE");
                var (count, newest) = await check.QuerySingleAsync<(long, long)>("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM messages");
                result = new Result(Path.GetFullPath(source.DataSource), count, newest);
            }
            File.Move(temporary, target, overwrite: false);
            return result;
        }
        finally
        {
            foreach (var leftover in new[] { temporary, temporary + "-wal", temporary + "-shm", temporary + "-journal" })
                if (File.Exists(leftover)) File.Delete(leftover);
        }
    }

    /// <summary>Runs <c>PRAGMA integrity_check</c>; throws <see cref="InvalidOperationException"/> naming <paramref name="what"/> unless it says ok.</summary>
    internal static async Task CheckIntegrityAsync(SqliteConnection connection, string what)
    {
        var integrity = (await connection.QueryAsync<string>("PRAGMA integrity_check")).ToList();
        if (integrity is not ["ok"]) throw new InvalidOperationException($"{what} failed its integrity check: {string.Join("; ", integrity.Take(5))}");
    }
}
