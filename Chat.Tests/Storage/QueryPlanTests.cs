using Chat.Server.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Tests.Storage;

/// <summary>
/// The hot queries run on indexes: EXPLAIN QUERY PLAN of the server's own SQL must not scan a table
/// that grows with users, conversations or messages.
/// </summary>
public sealed class QueryPlanTests
{
    private SqliteConnection _db = null!;

    [SetUp]
    public void SetUp()
    {
        _db = new SqliteConnection("Data Source=:memory:");
        _db.Open();
        SqliteMigrations.Apply(_db, NullLogger.Instance);
        using var analyze = _db.CreateCommand();
        analyze.CommandText = "ANALYZE";
        analyze.ExecuteNonQuery();
    }

    [TearDown]
    public void TearDown() => _db.Dispose();

    private static readonly (string Name, string Sql)[] HotQueries =
    [
        ("conversation list", MessageStore.ListConversationsSql),
        ("history members", MessageStore.HistoryMembersSql),
        ("history page", MessageStore.HistorySql),
        ("sync", MessageStore.SyncSql),
        ("last message id", MessageStore.LastMessageIdSql),
        ("search", UserStore.SearchSql),
        ("idempotency lookup", WriterSession.FindByClientMsgIdSql),
        ("conversation by pair", WriterSession.FindConversationSql),
        ("unread count", WriterSession.CountUnreadSql),
        ("member row", WriterSession.FindMemberSql),
        ("touch members", WriterSession.TouchMembersSql),
    ];

    [TestCaseSource(nameof(HotQueries))]
    public void HotQueryUsesIndexesOnly((string Name, string Sql) query)
    {
        var plan = Explain(query.Sql);
        TestContext.Out.WriteLine($"{query.Name}:\n  {string.Join("\n  ", plan)}");
        var scans = plan.Where(line => line.Contains("SCAN ") && !line.Contains("USING") && !IsSubqueryScan(line)).ToList();
        Assert.That(scans, Is.Empty, $"{query.Name} scans a table:\n{string.Join("\n", plan)}");
    }

    // Scans of a named subquery's result, never of a table: "SCAN ids" is the small UNION of two index range scans in
    // sync, and "SCAN sent" / "SCAN received" its halves, each already bounded by LIMIT; "SCAN s" / "SCAN r" are the one
    // row each of last message id's two MAX lookups; "SCAN page" is search's page of at most `limit` (username, id)
    // pairs, chosen on the covering index before users is read; "SCAN CONSTANT ROW" is a SELECT without a table.
    private static readonly string[] SubqueryAliases = ["ids", "sent", "received", "s", "r", "page"];

    private static bool IsSubqueryScan(string line) =>
        SubqueryAliases.Any(alias => line.Trim() == $"SCAN {alias}") || line.Contains("(subquery") || line.Contains("CONSTANT ROW");

    private List<string> Explain(string sql)
    {
        using var command = _db.CreateCommand();
        command.CommandText = "EXPLAIN QUERY PLAN " + sql;
        foreach (var name in ParameterNames(sql)) command.Parameters.AddWithValue(name, 1);
        var lines = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read()) lines.Add(reader.GetString(3));
        return lines;
    }

    private static IEnumerable<string> ParameterNames(string sql) =>
        System.Text.RegularExpressions.Regex.Matches(sql, @"[@$][A-Za-z_]+").Select(m => m.Value).Distinct();
}
