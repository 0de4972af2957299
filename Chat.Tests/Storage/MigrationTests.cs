using Chat.Server.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Tests.Storage;

/// <summary>A database written by an older server is upgraded in place at start-up, its data intact and usable.</summary>
public sealed class MigrationTests
{
    [Test]
    public void ADatabaseAtVersionTwoGainsSortedSearchTermsForItsExistingUsers()
    {
        using var db = new SqliteConnection("Data Source=:memory:");
        db.Open();
        // What a server that knew only the first two migrations left behind.
        db.Execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);");
        for (var version = 1; version <= 2; version++)
        {
            db.Execute(Migrations.Steps[version - 1]);
            db.Execute("INSERT INTO schema_version (version, applied_at) VALUES (@version, 0)", new { version });
        }
        foreach (var (id, username, fullName) in new[] { (1L, "Zed", "Zed Alpha"), (2L, "amy", "Amy Alpha"), (3L, "searcher", "S") })
        {
            db.Execute("INSERT INTO users (id, username, username_norm, password_hash, full_name, created_at) VALUES (@id, @username, lower(@username), 'x', @fullName, 0)",
                new { id, username, fullName });
            foreach (var term in new[] { username.ToLowerInvariant(), fullName.ToLowerInvariant() }.Concat(fullName.ToLowerInvariant().Split(' ')).Distinct())
                db.Execute("INSERT INTO user_search_terms (term, user_id) VALUES (@term, @id)", new { term, id });
        }

        Assert.That(Migrations.Apply(db, NullLogger.Instance), Is.EqualTo(Migrations.Steps.Length));

        Assert.That(db.ExecuteScalar<long>("SELECT MAX(version) FROM schema_version"), Is.EqualTo(Migrations.Steps.Length));
        Assert.That(db.ExecuteScalar<long>("SELECT COUNT(*) FROM user_search_terms t JOIN users u ON u.id = t.user_id WHERE t.username_norm <> u.username_norm"), Is.Zero);
        Assert.That(db.Query<string>("SELECT term FROM user_search_terms WHERE is_phrase = 1 ORDER BY term"), Is.EqualTo(new[] { "amy alpha", "zed alpha" }));
        Assert.That(Search(db, "alpha"), Is.EqualTo(new[] { "amy", "Zed" }), "ordered by username, ignoring case");
        Assert.That(Search(db, "zed al"), Is.EqualTo(new[] { "Zed" }), "a query with a space matches whole names");
    }

    private static List<string> Search(SqliteConnection db, string q) =>
        db.Query(SqliteUserStore.SearchSql, new { searcherId = 3L, q, upper = q + char.ConvertFromUtf32(0x10FFFF), phrase = q.Contains(' ') ? 1 : 0, limit = 20 })
            .Select(row => (string)row.username).ToList();
}
