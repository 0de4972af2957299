using Dapper;
using Microsoft.Data.Sqlite;

namespace Chat.Server.Storage;

/// <summary>
/// Versioned schema migrations, applied in order at start-up, each exactly once (recorded in <c>schema_version</c>).
/// The SQL sticks to what PostgreSQL also accepts, apart from the id column types.
/// </summary>
public static partial class SqliteMigrations
{
    // Append only: a migration that has shipped is never edited.
    internal static readonly Migration[] Steps =
    [
        // 1: the core schema.
        """
        CREATE TABLE users (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            username        TEXT    NOT NULL,
            username_norm   TEXT    NOT NULL UNIQUE,
            password_hash   TEXT    NOT NULL,
            full_name       TEXT    NOT NULL DEFAULT '',
            email           TEXT    NOT NULL DEFAULT '',
            email_norm      TEXT    NOT NULL DEFAULT '',
            avatar_version  INTEGER NOT NULL DEFAULT 0,
            created_at      INTEGER NOT NULL
        );
        CREATE INDEX ix_users_email ON users (email_norm);

        -- Prefix search on username, whole full name and each word of it, by index range scan.
        CREATE TABLE user_search_terms (
            term     TEXT    NOT NULL,
            user_id  INTEGER NOT NULL REFERENCES users (id),
            PRIMARY KEY (term, user_id)
        );
        CREATE INDEX ix_user_search_terms_user ON user_search_terms (user_id);

        CREATE TABLE avatars (
            user_id       INTEGER PRIMARY KEY REFERENCES users (id),
            content_type  TEXT    NOT NULL,
            data          BLOB    NOT NULL
        );

        CREATE TABLE tokens (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            user_id     INTEGER NOT NULL REFERENCES users (id),
            token_hash  BLOB    NOT NULL UNIQUE,
            created_at  INTEGER NOT NULL,
            expires_at  INTEGER NOT NULL,
            revoked_at  INTEGER
        );

        -- One row per unordered pair: user_a < user_b, unique.
        CREATE TABLE conversations (
            id          INTEGER PRIMARY KEY AUTOINCREMENT,
            user_a      INTEGER NOT NULL REFERENCES users (id),
            user_b      INTEGER NOT NULL REFERENCES users (id),
            created_at  INTEGER NOT NULL,
            CHECK (user_a < user_b),
            UNIQUE (user_a, user_b)
        );

        -- Each participant's view of a conversation: what the sidebar needs without scanning messages.
        CREATE TABLE conversation_members (
            user_id          INTEGER NOT NULL REFERENCES users (id),
            conversation_id  INTEGER NOT NULL REFERENCES conversations (id),
            other_user_id    INTEGER NOT NULL REFERENCES users (id),
            last_message_id  INTEGER NOT NULL DEFAULT 0,
            read_up_to       INTEGER NOT NULL DEFAULT 0,
            unread_count     INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (user_id, conversation_id)
        );
        CREATE INDEX ix_conversation_members_activity ON conversation_members (user_id, last_message_id DESC);
        CREATE UNIQUE INDEX ix_conversation_members_pair ON conversation_members (user_id, other_user_id);

        -- AUTOINCREMENT: ids only ever grow, never reused, so clients can sync from the last one seen.
        CREATE TABLE messages (
            id                   INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id      INTEGER NOT NULL REFERENCES conversations (id),
            sender_id            INTEGER NOT NULL REFERENCES users (id),
            receiver_id          INTEGER NOT NULL REFERENCES users (id),
            body                 TEXT    NOT NULL,
            created_at           INTEGER NOT NULL,
            is_new_conversation  INTEGER NOT NULL,
            client_msg_id        TEXT
        );
        CREATE INDEX ix_messages_conversation ON messages (conversation_id, id);
        CREATE INDEX ix_messages_sender ON messages (sender_id, id);
        CREATE INDEX ix_messages_receiver ON messages (receiver_id, id);
        CREATE UNIQUE INDEX ix_messages_client_msg_id ON messages (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL;
        """,

        // 2: history reads both members of a conversation by conversation id; without this it scanned
        // every member row (found by profiling the send path).
        """
        CREATE INDEX ix_conversation_members_conversation ON conversation_members (conversation_id);
        """,

        // 3: search ordered by username without reading a users row per match: each term carries its user's
        // username_norm, so a common prefix is sorted on this covering index and only the page is fetched.
        // Whole multi-word names are kept apart (is_phrase): a query without a space never needs them, since
        // the name's first word matches it too, and skipping them halves the entries a common name scans.
        """
        ALTER TABLE user_search_terms ADD COLUMN username_norm TEXT NOT NULL DEFAULT '';
        ALTER TABLE user_search_terms ADD COLUMN is_phrase INTEGER NOT NULL DEFAULT 0;
        UPDATE user_search_terms SET
            username_norm = (SELECT u.username_norm FROM users u WHERE u.id = user_search_terms.user_id),
            is_phrase = instr(term, ' ') > 0;
        CREATE INDEX ix_user_search_terms_sorted ON user_search_terms (is_phrase, term, username_norm, user_id);
        """,

        // 4: search folds text with Unicode NFKC_Casefold (SearchFold) instead of ToLowerInvariant, so every existing
        // user's terms and email_norm are computed again. The fold is .NET code, so this step is code, not SQL.
        Migration.FromCode(ReindexSearch),
    ];

    /// <summary>Recomputes <c>users.email_norm</c> and <c>user_search_terms</c> with the current <see cref="SearchFold"/>.</summary>
    private static void ReindexSearch(SqliteConnection connection, SqliteTransaction tx)
    {
        const int page = 500;
        long after = 0;
        while (true)
        {
            var users = connection.Query<IndexedUser>(
                "SELECT id, username, full_name AS FullName, email FROM users WHERE id > @after ORDER BY id LIMIT @page", new { after, page }, tx).AsList();
            foreach (var user in users)
            {
                connection.Execute("UPDATE users SET email_norm = @emailNorm WHERE id = @id", new { id = user.Id, emailNorm = SearchFold.Fold(user.Email) }, tx);
                connection.Execute("DELETE FROM user_search_terms WHERE user_id = @id", new { id = user.Id }, tx);
                connection.Execute(UserStore.InsertSearchTermSql, UserStore.SearchTermRows(user.Id, user.Username, user.FullName), tx);
            }
            if (users.Count < page) return;
            after = users[^1].Id;
        }
    }

    private sealed class IndexedUser
    {
        public long Id { get; set; }
        public string Username { get; set; } = "";
        public string FullName { get; set; } = "";
        public string Email { get; set; } = "";
    }

    /// <summary>
    /// Brings the database up to <paramref name="targetVersion"/> (default: the newest), one transaction per step, and
    /// returns the version it is at. A test builds a database as an older server left it by passing an older version.
    /// <paramref name="clock"/> stamps each step's <c>applied_at</c> (Unix seconds; the system clock when null).
    /// </summary>
    public static int Apply(SqliteConnection connection, ILogger logger, int? targetVersion = null, TimeProvider? clock = null)
    {
        var target = Math.Min(targetVersion ?? Steps.Length, Steps.Length);
        // WAL lets readers run beside the single writer; the mode is stored in the file.
        connection.Execute("PRAGMA journal_mode=WAL;");
        connection.Execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
        var current = (int)(connection.ExecuteScalar<long?>("SELECT MAX(version) FROM schema_version") ?? 0);
        for (var version = current + 1; version <= target; version++)
        {
            using var tx = connection.BeginTransaction();
            Steps[version - 1].Run(connection, tx);
            connection.Execute("INSERT INTO schema_version (version, applied_at) VALUES (@version, @now)",
                new { version, now = (clock ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds() }, tx);
            tx.Commit();
            LogApplied(logger, version);
        }
        return Math.Max(current, target);
    }

    [LoggerMessage(EventId = Observability.ChatEventIds.SchemaMigrated, EventName = "SchemaMigrated", Level = LogLevel.Information, Message = "Applied schema migration {Version}")]
    private static partial void LogApplied(ILogger logger, int version);
}

/// <summary>
/// One migration step: SQL (a plain string converts to one), or code for what SQL cannot compute, such as re-folding
/// text with .NET. Either runs inside the step's transaction.
/// </summary>
internal sealed class Migration
{
    private readonly string? _sql;
    private readonly Action<SqliteConnection, SqliteTransaction>? _code;

    private Migration(string? sql, Action<SqliteConnection, SqliteTransaction>? code) => (_sql, _code) = (sql, code);

    public static implicit operator Migration(string sql) => new(sql, null);

    public static Migration FromCode(Action<SqliteConnection, SqliteTransaction> code) => new(null, code);

    public void Run(SqliteConnection connection, SqliteTransaction tx)
    {
        if (_sql is not null) connection.Execute(_sql, transaction: tx);
        _code?.Invoke(connection, tx);
    }
}
