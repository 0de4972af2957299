using Chat.Server.Storage;
using Dapper;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Tests.Storage;

/// <summary>A database written by an older server is upgraded in place at start-up, its data intact and usable.</summary>
public sealed class MigrationTests
{
    private SqliteConnection _db = null!;

    [SetUp]
    public void SetUp()
    {
        _db = new SqliteConnection("Data Source=:memory:");
        _db.Open();
    }

    [TearDown]
    public void TearDown() => _db.Dispose();

    [Test]
    public void ADatabaseAtVersionTwoGainsSortedSearchTermsForItsExistingUsers()
    {
        // What a server that knew only the first two migrations left behind.
        Assert.That(SqliteMigrations.Apply(_db, NullLogger.Instance, targetVersion: 2), Is.EqualTo(2));
        foreach (var (id, username, fullName) in new[] { (1L, "Zed", "Zed Alpha"), (2L, "amy", "Amy Alpha"), (3L, "searcher", "S") })
        {
            _db.Execute("INSERT INTO users (id, username, username_norm, password_hash, full_name, created_at) VALUES (@id, @username, lower(@username), 'x', @fullName, 0)",
                new { id, username, fullName });
            foreach (var term in new[] { username.ToLowerInvariant(), fullName.ToLowerInvariant() }.Concat(fullName.ToLowerInvariant().Split(' ')).Distinct())
                _db.Execute("INSERT INTO user_search_terms (term, user_id) VALUES (@term, @id)", new { term, id });
        }

        Assert.That(SqliteMigrations.Apply(_db, NullLogger.Instance), Is.EqualTo(SqliteMigrations.Steps.Length));

        Assert.That(_db.ExecuteScalar<long>("SELECT MAX(version) FROM schema_version"), Is.EqualTo(SqliteMigrations.Steps.Length));
        Assert.That(_db.ExecuteScalar<long>("SELECT COUNT(*) FROM user_search_terms t JOIN users u ON u.id = t.user_id WHERE t.username_norm <> u.username_norm"), Is.Zero);
        Assert.That(_db.Query<string>("SELECT term FROM user_search_terms WHERE is_phrase = 1 ORDER BY term"), Is.EqualTo(new[] { "amy alpha", "zed alpha" }));
        Assert.That(Search("alpha"), Is.EqualTo(new[] { "amy", "Zed" }), "ordered by username, ignoring case");
        Assert.That(Search("zed al"), Is.EqualTo(new[] { "Zed" }), "a query with a space matches whole names");
    }

    [Test]
    public void ADatabaseAtVersionThreeIsReindexedWithTheUnicodeFold()
    {
        // What a server that knew three migrations left behind: terms and email_norm folded by ToLowerInvariant.
        Assert.That(SqliteMigrations.Apply(_db, NullLogger.Instance, targetVersion: 3), Is.EqualTo(3));
        var users = new[]
        {
            (Id: 1L, Username: "Greek", FullName: "Σωκρατης Παππάς", Email: "S@Example.com"),
            (Id: 2L, Username: "js", FullName: "Johann Strau\u00DF", Email: "Strau\u00DF@Example.com"),
            (Id: 3L, Username: "zoe", FullName: "Zoe\u0308  Martin", Email: "zo\u00EB@example.com"),
            (Id: 4L, Username: "searcher", FullName: "", Email: ""),
        };
        foreach (var u in users)
        {
            _db.Execute("INSERT INTO users (id, username, username_norm, password_hash, full_name, email, email_norm, created_at) VALUES (@Id, @Username, @norm, 'x', @FullName, @Email, @emailNorm, 0)",
                new { u.Id, u.Username, norm = u.Username.ToLowerInvariant(), u.FullName, u.Email, emailNorm = u.Email.ToLowerInvariant() });
            var name = u.FullName.Trim().ToLowerInvariant();
            var terms = new HashSet<string> { u.Username.ToLowerInvariant() };
            if (name.Length > 0) terms.UnionWith([name, .. name.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)]);
            foreach (var term in terms)
                _db.Execute("INSERT INTO user_search_terms (term, user_id, username_norm, is_phrase) VALUES (@term, @Id, @norm, @phrase)",
                    new { term, u.Id, norm = u.Username.ToLowerInvariant(), phrase = term.Contains(' ') ? 1 : 0 });
        }
        Assert.That(Search("ΣΩΚΡΑΤΗΣ"), Is.Empty, "the old index does not fold");

        Assert.That(SqliteMigrations.Apply(_db, NullLogger.Instance), Is.EqualTo(SqliteMigrations.Steps.Length));

        Assert.That(_db.ExecuteScalar<long>("SELECT MAX(version) FROM schema_version"), Is.EqualTo(SqliteMigrations.Steps.Length));
        Assert.Multiple(() =>
        {
            Assert.That(Search("ΣΩΚΡΑΤΗΣ"), Is.EqualTo(new[] { "Greek" }));
            Assert.That(Search("ΠΑΠΠΆΣ"), Is.EqualTo(new[] { "Greek" }), "a later word, accent kept, final sigma");
            Assert.That(Search("STRAUSS"), Is.EqualTo(new[] { "js" }), "ß folds to ss");
            Assert.That(Search("zo\u00EB m"), Is.EqualTo(new[] { "zoe" }), "decomposed stored, precomposed query, one space for two");
            Assert.That(Search("STRAUSS@EXAMPLE.COM"), Is.EqualTo(new[] { "js" }), "email_norm re-folded");
            Assert.That(Search("ZOE\u0308@example.com"), Is.EqualTo(new[] { "zoe" }));
            Assert.That(Search("s@example.com"), Is.EqualTo(new[] { "Greek" }));
        });
        // Names are kept as typed; usernames keep their uniqueness key; no stale term is left behind.
        Assert.That(_db.Query<string>("SELECT full_name FROM users ORDER BY id"), Is.EqualTo(users.Select(u => u.FullName)));
        Assert.That(_db.Query<string>("SELECT username_norm FROM users ORDER BY id"), Is.EqualTo(new[] { "greek", "js", "zoe", "searcher" }));
        Assert.That(_db.Query<string>("SELECT term FROM user_search_terms WHERE user_id = 3 ORDER BY term"),
            Is.EqualTo(new[] { "martin", "zoe", "zo\u00EB", "zo\u00EB martin" }));
    }

    private List<string> Search(string q) =>
        _db.Query(UserStore.SearchSql, UserStore.SearchParameters(searcherId: 4, q, limit: 20))
            .Select(row => (string)row.username).ToList();
}
