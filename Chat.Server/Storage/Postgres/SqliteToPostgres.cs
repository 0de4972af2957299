using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Chat.Server.Storage;

/// <summary>
/// <c>dotnet Chat.Server.dll migrate-to-postgres --from "Data Source=chat.db" --to "Host=...;Database=..."</c>: copies a
/// single node's SQLite database into an empty PostgreSQL one, so it can grow into a cluster without losing history, ids
/// or read state. Every row keeps its id (users, tokens, conversations, messages), so tokens, cursors and
/// <c>client_msg_id</c>s stay valid; each id sequence continues past the largest id SQLite ever issued; the stream
/// position starts at the newest message. One PostgreSQL transaction: it copies everything or nothing. The SQLite file is
/// opened read-only and must be at the newest schema. Stop the server first (the file must not change during the copy).
/// Text holding U+0000 (accepted by SQLite before U+0000 was refused on both stores) is copied with U+FFFD in its place.
/// </summary>
public static partial class SqliteToPostgres
{
    /// <summary>The command's name on the command line.</summary>
    public const string Command = "migrate-to-postgres";

    // In dependency order; each column list is the same on both schemas.
    private static readonly (string Table, string Columns)[] Tables =
    [
        ("users", "id, username, username_norm, password_hash, full_name, email, email_norm, avatar_version, created_at"),
        ("user_search_terms", "term, user_id, username_norm, is_phrase"),
        ("avatars", "user_id, content_type, data"),
        ("tokens", "id, user_id, token_hash, created_at, expires_at, revoked_at"),
        ("conversations", "id, user_a, user_b, created_at"),
        ("conversation_members", "user_id, conversation_id, other_user_id, last_message_id, read_up_to, unread_count"),
        ("messages", "id, conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation, client_msg_id"),
    ];

    private static readonly string[] IdentityTables = ["users", "tokens", "conversations", "messages"];

    /// <summary>Runs the command; returns the process exit code (0 copied; 1 with one line on stderr otherwise).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        var from = Option(args, "--from");
        var to = Option(args, "--to");
        if (from is null || to is null)
        {
            await error.WriteLineAsync($"Usage: dotnet Chat.Server.dll {Command} --from \"Data Source=chat.db\" --to \"Host=...;Database=...;Username=...;Password=...\"");
            return 1;
        }
        try
        {
            var counts = await CopyAsync(from, to);
            await output.WriteLineAsync("Copied " + string.Join(", ", counts.Select(c => $"{c.Value} {c.Key}")) + ".");
            return 0;
        }
        catch (Exception e) when (e is SqliteException or NpgsqlException or InvalidOperationException or ArgumentException)
        {
            // The message of a connection failure never holds the password; the connection strings are not echoed.
            var message = e is PostgresException postgres ? $"{postgres.SqlState}: {postgres.MessageText}" : e.Message;
            await error.WriteLineAsync($"{Command} failed: {message.ReplaceLineEndings(" ").Trim()}");
            return 1;
        }
    }

    /// <summary>Copies every row; throws <see cref="InvalidOperationException"/> when the target already holds data.</summary>
    /// <returns>Rows copied per table.</returns>
    public static async Task<Dictionary<string, long>> CopyAsync(string sqliteConnectionString, string postgresConnectionString)
    {
        SqliteConnectionStringBuilder source;
        try { source = new SqliteConnectionStringBuilder(sqliteConnectionString) { Mode = SqliteOpenMode.ReadOnly, Pooling = false }; }
        catch (ArgumentException) { throw new InvalidOperationException("--from is not an SQLite connection string such as \"Data Source=chat.db\"."); }
        if (string.IsNullOrEmpty(source.DataSource) || !File.Exists(source.DataSource))
            throw new InvalidOperationException($"--from: no SQLite database at {source.DataSource}.");
        // Read only: the source is never changed. It must be a chat database at the newest schema (start the server on it
        // once to migrate it), so the column lists below match.
        await using var sqlite = new SqliteConnection(source.ToString());
        await sqlite.OpenAsync();
        var hasSchema = await sqlite.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'") > 0;
        var version = hasSchema ? await sqlite.ExecuteScalarAsync<long?>("SELECT MAX(version) FROM schema_version") : null;
        if (version != SqliteMigrations.Steps.Length)
            throw new InvalidOperationException(version is null
                ? "--from is not a chat database (it has no schema_version table)."
                : $"--from is at schema version {version}, not {SqliteMigrations.Steps.Length}: start the server on it once to migrate it, stop it, then copy.");

        try { _ = new NpgsqlConnectionStringBuilder(postgresConnectionString); }
        catch (ArgumentException) { throw new InvalidOperationException("--to is not an Npgsql connection string such as \"Host=127.0.0.1;Database=chat;Username=chat;Password=...\"."); }

        await using var postgres = new NpgsqlConnection(postgresConnectionString);
        await postgres.OpenAsync();
        PostgresMigrations.Apply(postgres, Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        await using var tx = await postgres.BeginTransactionAsync();
        foreach (var (table, _) in Tables)
            if (await postgres.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table}", transaction: tx) > 0)
                throw new InvalidOperationException($"the PostgreSQL database is not empty (table {table} has rows); copy only into a new database.");

        var counts = new Dictionary<string, long>();
        long replacedValues = 0;
        foreach (var (table, columns) in Tables)
        {
            var (rows, replaced) = await CopyTableAsync(sqlite, postgres, table, columns);
            counts[table] = rows;
            replacedValues += replaced;
        }

        // Sequences continue past every id SQLite ever issued (sqlite_sequence, not just the largest remaining row).
        foreach (var table in IdentityTables)
        {
            var issued = Math.Max(
                await sqlite.ExecuteScalarAsync<long?>("SELECT seq FROM sqlite_sequence WHERE name = @table", new { table }) ?? 0,
                await sqlite.ExecuteScalarAsync<long?>($"SELECT MAX(id) FROM {table}") ?? 0);
            if (issued > 0)
                await postgres.ExecuteAsync($"SELECT setval(pg_get_serial_sequence('{table}', 'id'), @issued)", new { issued }, tx);
        }
        await postgres.ExecuteAsync("UPDATE stream_position SET position = COALESCE((SELECT MAX(id) FROM messages), 0)", transaction: tx);

        foreach (var (table, _) in Tables)
        {
            var copied = await postgres.ExecuteScalarAsync<long>($"SELECT COUNT(*) FROM {table}", transaction: tx);
            if (copied != counts[table]) throw new InvalidOperationException($"{table}: {copied} rows arrived of {counts[table]}.");
        }
        await tx.CommitAsync();
        if (replacedValues > 0) counts["text values with U+0000 copied with U+FFFD in its place"] = replacedValues;
        return counts;
    }

    /// <summary>
    /// SQLite took U+0000 in text before it was refused on both stores; PostgreSQL's <c>text</c> cannot hold it, so each
    /// is copied as U+FFFD (the replacement character) and counted.
    /// </summary>
    private static string Storable(string value, ref long replaced)
    {
        if (!value.Contains('\0')) return value;
        replaced++;
        return value.Replace('\0', '\uFFFD');
    }

    private static async Task<(long Rows, long Replaced)> CopyTableAsync(SqliteConnection sqlite, NpgsqlConnection postgres, string table, string columns)
    {
        long replaced = 0;
        await using var read = sqlite.CreateCommand();
        read.CommandText = $"SELECT {columns} FROM {table}";
        await using var reader = await read.ExecuteReaderAsync();
        var types = await ColumnTypesAsync(postgres, table, columns);
        long rows = 0;
        await using (var import = await postgres.BeginBinaryImportAsync($"COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)"))
        {
            while (await reader.ReadAsync())
            {
                await import.StartRowAsync();
                for (var i = 0; i < reader.FieldCount; i++)
                {
                    if (await reader.IsDBNullAsync(i)) await import.WriteNullAsync();
                    else if (types[i] == "bytea") await import.WriteAsync((byte[])reader.GetValue(i), NpgsqlTypes.NpgsqlDbType.Bytea);
                    else if (types[i] == "text") await import.WriteAsync(Storable(reader.GetString(i), ref replaced), NpgsqlTypes.NpgsqlDbType.Text);
                    else if (types[i] == "integer") await import.WriteAsync(checked((int)reader.GetInt64(i)), NpgsqlTypes.NpgsqlDbType.Integer);
                    else await import.WriteAsync(reader.GetInt64(i), NpgsqlTypes.NpgsqlDbType.Bigint);
                }
                rows++;
            }
            await import.CompleteAsync();
        }
        return (rows, replaced);
    }

    private static async Task<string[]> ColumnTypesAsync(DbConnection postgres, string table, string columns)
    {
        var types = new List<string>();
        foreach (var column in columns.Split(", "))
            types.Add(await postgres.ExecuteScalarAsync<string>(
                "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = @table AND column_name = @column",
                new { table, column }) ?? throw new InvalidOperationException($"{table}.{column} is missing on PostgreSQL."));
        return [.. types];
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
