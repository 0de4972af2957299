using Dapper;
using Microsoft.Data.Sqlite;

namespace Chat.Server.Storage;

/// <summary>
/// <c>dotnet Chat.Server.dll restore BACKUP</c>, with the server stopped: puts a backup (<see cref="SqliteBackup"/>) in
/// place of the database the server would open, keeping the contract's promises that a plain file copy would break:
/// <list type="bullet">
/// <item>No id a client has seen is given to another message (contract section 3): the id sequences (users, tokens,
/// conversations, messages) continue after the largest id the replaced database ever issued, when it can still be read;
/// when it cannot (the disk was lost), after the backup's largest plus <c>--skip-ids</c> (default 1,000,000), beyond any id
/// issued after the backup was taken. A client that syncs from the last id it saw then receives every new message.</item>
/// <item>No logout is undone: every session the backup knew is revoked, so everyone logs in again (a token revoked
/// after the backup was taken would otherwise work again).</item>
/// </list>
/// The replaced database (with its <c>-wal</c> and <c>-shm</c> files, which belong to it and would corrupt the restored
/// one) is moved aside as <c>NAME.before-restore-TIMESTAMP</c>, never deleted. The backup is checked with
/// <c>integrity_check</c> first and never changed. Messages sent after the backup was taken are not in it.
/// </summary>
public static class SqliteRestore
{
    /// <summary>The command's name on the command line.</summary>
    public const string Command = "restore";

    /// <summary>The id gap used when the replaced database cannot be read (<c>--skip-ids</c>).</summary>
    public const long DefaultSkipIds = 1_000_000;

    /// <summary>Tables whose ids clients see or that tokens name; their AUTOINCREMENT sequences only ever grow.</summary>
    private static readonly string[] Sequences = ["users", "tokens", "conversations", "messages"];

    /// <summary>Runs the command; returns the process exit code (0 restored; 1 with one line on stderr otherwise).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, TimeProvider clock)
    {
        if (await SqliteCommandLine.ReadAsync(args, Command, "BACKUP [--skip-ids N] [--ConnectionStrings:Chat=\"Data Source=chat.db\"] (stop the server first)", "pg_restore", error)
            is not { } read)
            return 1;
        var (backup, configuration) = read;
        if (!long.TryParse(configuration["skip-ids"] ?? DefaultSkipIds.ToString(), out var skip) || skip < 0)
        {
            await error.WriteLineAsync($"{Command}: --skip-ids must be a whole number, 0 or more.");
            return 1;
        }
        try
        {
            var result = await RestoreAsync(backup, SqliteCommandLine.ConnectionString(configuration), skip, clock);
            await output.WriteLineAsync(
                $"Restored {Path.GetFullPath(backup)} into {result.Database}: {result.Messages} messages; new message ids start after {result.NextMessageIdAfter}" +
                $" ({(result.ReplacedReadable ? "the largest the replaced database issued" : $"the backup's largest + {skip}: the replaced database could not be read")});" +
                $" {result.SessionsRevoked} sessions signed out" + (result.MovedAside is null ? "." : $"; the replaced database is kept as {result.MovedAside}."));
            return 0;
        }
        catch (Exception e) when (e is SqliteException or InvalidOperationException or IOException or ArgumentException or UnauthorizedAccessException)
        {
            await error.WriteLineAsync($"{Command} failed: {e.Message.ReplaceLineEndings(" ").Trim()}");
            return 1;
        }
    }

    /// <summary>What a restore did.</summary>
    /// <param name="Database">The database file now holding the backup (full path).</param>
    /// <param name="Messages">Messages restored.</param>
    /// <param name="NextMessageIdAfter">New messages get ids above this.</param>
    /// <param name="ReplacedReadable">Whether the replaced database's sequences could be read.</param>
    /// <param name="SessionsRevoked">Tokens revoked (everyone logs in again).</param>
    /// <param name="MovedAside">Where the replaced database went, or null when there was none.</param>
    public sealed record Result(string Database, long Messages, long NextMessageIdAfter, bool ReplacedReadable, long SessionsRevoked, string? MovedAside);

    /// <summary>
    /// Restores <paramref name="backup"/> as the database named by <paramref name="connectionString"/>. Throws
    /// <see cref="InvalidOperationException"/> when the backup is missing, not a chat database or fails its check.
    /// </summary>
    public static async Task<Result> RestoreAsync(string backup, string connectionString, long skipIds, TimeProvider clock)
    {
        if (!File.Exists(backup)) throw new InvalidOperationException($"no backup at {Path.GetFullPath(backup)}.");
        SqliteConnectionStringBuilder target;
        try { target = new SqliteConnectionStringBuilder(connectionString) { Pooling = false }; }
        catch (ArgumentException) { throw new InvalidOperationException("ConnectionStrings:Chat is not an SQLite connection string such as \"Data Source=chat.db\"."); }
        if (string.IsNullOrEmpty(target.DataSource)) throw new InvalidOperationException("ConnectionStrings:Chat names no file.");
        var database = Path.GetFullPath(target.DataSource);
        if (database == Path.GetFullPath(backup)) throw new InvalidOperationException("the backup is the database itself.");

        var source = new SqliteConnectionStringBuilder { DataSource = backup, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString();
        await using (var check = new SqliteConnection(source))
        {
            await check.OpenAsync();
            await SqliteBackup.CheckIntegrityAsync(check, "the backup");
            if (await check.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") == 0)
                throw new InvalidOperationException("the backup is not a chat database (it has no schema_version table).");
        }

        Dictionary<string, long>? issued = null;
        string? movedAside = null;
        if (File.Exists(database))
        {
            await EnsureNotInUseAsync(database);
            issued = await TryReadSequencesAsync(database);
            movedAside = $"{database}.before-restore-{clock.GetUtcNow():yyyyMMddTHHmmssZ}";
            foreach (var suffix in new[] { "", "-wal", "-shm" })
                if (File.Exists(database + suffix)) File.Move(database + suffix, movedAside + suffix);
        }

        await using (var from = new SqliteConnection(source))
        await using (var to = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString()))
        {
            await from.OpenAsync();
            await to.OpenAsync();
            from.BackupDatabase(to);
        }

        await using var restored = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        await restored.OpenAsync();
        await using var transaction = await restored.BeginTransactionAsync();
        var inBackup = (await restored.QueryAsync<(string Name, long Seq)>("SELECT name, seq FROM sqlite_sequence", transaction: transaction))
            .ToDictionary(r => r.Name, r => r.Seq);
        foreach (var table in Sequences)
        {
            var fromBackup = inBackup.GetValueOrDefault(table);
            var next = issued is null ? fromBackup + skipIds : Math.Max(fromBackup, issued.GetValueOrDefault(table));
            await restored.ExecuteAsync("DELETE FROM sqlite_sequence WHERE name = @table", new { table }, transaction);
            await restored.ExecuteAsync("INSERT INTO sqlite_sequence (name, seq) VALUES (@table, @next)", new { table, next }, transaction);
        }
        var revoked = await restored.ExecuteAsync("UPDATE tokens SET revoked_at = @now WHERE revoked_at IS NULL",
            new { now = clock.GetUtcNow().ToUnixTimeSeconds() }, transaction);
        var messages = await restored.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM messages", transaction: transaction);
        var nextMessage = await restored.ExecuteScalarAsync<long>("SELECT seq FROM sqlite_sequence WHERE name = 'messages'", transaction: transaction);
        await transaction.CommitAsync();
        return new Result(database, messages, nextMessage, issued is not null, revoked, movedAside);
    }

    /// <summary>
    /// Refuses (<see cref="InvalidOperationException"/>) while any process has the database open: a running server keeps
    /// connections open, and in WAL mode every open connection keeps others from taking the file exclusively. Moving the
    /// file from under a running server would let it acknowledge ids the restored database then issues again. A file that
    /// is not a readable database is not in use (it is replaced).
    /// </summary>
    private static async Task EnsureNotInUseAsync(string database)
    {
        try
        {
            await using var probe = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadWrite, Pooling = false, DefaultTimeout = 1 }.ToString());
            await probe.OpenAsync();
            await probe.ExecuteAsync("PRAGMA busy_timeout = 1000; PRAGMA locking_mode = EXCLUSIVE;");
            await probe.ExecuteAsync("BEGIN EXCLUSIVE; COMMIT;");
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6) // SQLITE_BUSY, SQLITE_LOCKED
        {
            throw new InvalidOperationException($"{database} is in use (is the server running?); stop every process using it first.");
        }
        catch (SqliteException)
        {
            // Damaged or not a database: nothing can be using it as one; it is moved aside like any other.
        }
    }

    /// <summary>The replaced database's sequences, or null when it cannot be read (damaged, not a database).</summary>
    private static async Task<Dictionary<string, long>?> TryReadSequencesAsync(string database)
    {
        try
        {
            await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = database, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
            await connection.OpenAsync();
            return (await connection.QueryAsync<(string Name, long Seq)>("SELECT name, seq FROM sqlite_sequence")).ToDictionary(r => r.Name, r => r.Seq);
        }
        catch (SqliteException)
        {
            return null;
        }
    }
}
