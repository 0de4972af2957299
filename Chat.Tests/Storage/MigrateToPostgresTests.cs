using System.Diagnostics;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Storage;

/// <summary>
/// <c>dotnet Chat.Server.dll migrate-to-postgres</c> (issue 11): a single node's SQLite database copied into an empty
/// PostgreSQL one serves every API answer exactly as before (history, ids, read state, tokens, avatars, search), and ids
/// go on from where SQLite left them.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class MigrateToPostgresTests
{
    private string? _postgres;

    [SetUp]
    public void RequirePostgres()
    {
        if (PostgresServer.UnavailableReason is { } reason) Assert.Ignore(reason);
    }

    [TearDown]
    public async Task DropDatabase()
    {
        if (_postgres is not null) await PostgresServer.DropDatabaseAsync(_postgres);
    }

    [Test]
    public async Task EveryApiAnswerIsTheSameAfterTheCopyAndIdsContinue()
    {
        var sqlite = await ChatApp.StartAsync(Transport.TestHost, store: Store.Sqlite);
        var alice = await sqlite.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        var bob = await sqlite.RegisterAsync("bob", "Bob Builder");
        var carol = await sqlite.RegisterAsync("carol");
        using (var client = alice.Client())
            await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(HttpApi.Images.Png(), "image/png"))).JsonAsync(200);
        var first = await alice.SendAsync("bob", "hello bob", "a-1");
        await alice.SendAsync("bob", "😀 second");
        await bob.SendAsync("alice", "hi alice");
        var last = await carol.SendAsync("alice", "from carol");
        using (var client = bob.Client())
            await (await client.PostAsync($"/api/conversations/{first.Long("conversation_id")}/read", null)).JsonAsync(200);
        var users = new[] { alice, bob, carol };
        var before = await AnswersAsync(users);
        await sqlite.StopAsync();

        _postgres = await PostgresServer.CreateDatabaseAsync();
        var (exit, output) = await Resilience.ServerProcess.RunCommandAsync("migrate-to-postgres", "--from", $"Data Source={sqlite.DatabasePath}", "--to", _postgres);
        Assert.That(exit, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("Copied").And.Contain("4 messages"));

        await using var postgres = await ChatApp.StartAsync(Transport.TestHost, databasePath: _postgres, store: Store.Postgres);
        var moved = users.Select(u => u with { App = postgres }).ToArray();
        var after = await AnswersAsync(moved);
        Assert.That(after, Is.EqualTo(before), "every answer, for every user, is the same on PostgreSQL");

        // Ids go on past SQLite's; an old client_msg_id still finds its original.
        var next = await moved[0].SendAsync("carol", "first on postgres");
        Assert.That(next.Long("message_id"), Is.GreaterThan(last.Long("message_id")));
        Assert.That((await moved[0].SendAsync("bob", "hello bob", "a-1")).Long("message_id"), Is.EqualTo(first.Long("message_id")));
        sqlite.DeleteDatabase();
    }

    [Test]
    public async Task ACopyIntoADatabaseThatHoldsDataIsRefusedAndChangesNothing()
    {
        var sqlite = await ChatApp.StartAsync(Transport.TestHost, store: Store.Sqlite);
        await sqlite.RegisterAsync("alice");
        await sqlite.StopAsync();
        _postgres = await PostgresServer.CreateDatabaseAsync();
        await using (var postgres = await ChatApp.StartAsync(Transport.TestHost, databasePath: _postgres, store: Store.Postgres))
        {
            await postgres.RegisterAsync("zed");
            await postgres.StopAsync();
            var (exit, output) = await Resilience.ServerProcess.RunCommandAsync("migrate-to-postgres", "--from", $"Data Source={sqlite.DatabasePath}", "--to", _postgres);
            Assert.That(exit, Is.EqualTo(1));
            Assert.That(output, Does.Contain("not empty"));
            Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace");
            Assert.That(output, Does.Not.Contain("Password").IgnoreCase.And.Not.Contain(_postgres), "the connection string is not echoed");
            Assert.That(Hardening.HostileInput.Count(postgres, "users"), Is.EqualTo(1));
        }
        sqlite.DeleteDatabase();
    }

    [Test]
    public async Task AFileThatIsNotAChatDatabaseIsRefusedAndLeftUnchanged()
    {
        var path = ChatApp.NewDatabasePath();
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using (var other = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={path};Pooling=False"))
        {
            other.Open();
            using var create = other.CreateCommand();
            create.CommandText = "CREATE TABLE notes (body TEXT)";
            create.ExecuteNonQuery();
        }
        var before = await File.ReadAllBytesAsync(path);
        _postgres = await PostgresServer.CreateDatabaseAsync();

        var (exit, output) = await Resilience.ServerProcess.RunCommandAsync("migrate-to-postgres", "--from", $"Data Source={path}", "--to", _postgres);

        Assert.That(exit, Is.EqualTo(1));
        Assert.That(output, Does.Contain("not a chat database"));
        Assert.That(await File.ReadAllBytesAsync(path), Is.EqualTo(before), "the source is opened read-only");
        ChatApp.DeleteDatabase(path);
    }

    [Test]
    public async Task TextHoldingU0000FromAnOlderDatabaseIsCopiedWithAReplacementCharacter()
    {
        var sqlite = await ChatApp.StartAsync(Transport.TestHost, store: Store.Sqlite);
        var alice = await sqlite.RegisterAsync("alice");
        await sqlite.RegisterAsync("bob");
        var sent = await alice.SendAsync("bob", "was nul");
        await sqlite.StopAsync();
        // As a server older than the U+0000 rule could have stored it.
        using (var connection = StoredMessages.Open(sqlite.DatabasePath, readOnly: false))
        {
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE messages SET body = 'a' || char(0) || 'b'";
            update.ExecuteNonQuery();
        }
        _postgres = await PostgresServer.CreateDatabaseAsync();

        var (exit, output) = await Resilience.ServerProcess.RunCommandAsync("migrate-to-postgres", "--from", $"Data Source={sqlite.DatabasePath}", "--to", _postgres);

        Assert.That(exit, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("1 text values with U+0000"));
        await using var postgres = await ChatApp.StartAsync(Transport.TestHost, databasePath: _postgres, store: Store.Postgres);
        var history = await (alice with { App = postgres }).GetAsync($"/api/conversations/{sent.Long("conversation_id")}/messages");
        Assert.That(history["messages"]![0]!["message"]!.GetValue<string>(), Is.EqualTo("a\uFFFDb"));
        sqlite.DeleteDatabase();
    }

    /// <summary>What each user sees: profile, conversation list, every history, a search, the avatar's bytes.</summary>
    private static async Task<List<string>> AnswersAsync(TestUser[] users)
    {
        var answers = new List<string>();
        foreach (var user in users)
        {
            answers.Add((await user.GetAsync("/api/users/me")).ToJsonString());
            var list = await user.GetAsync("/api/conversations");
            answers.Add(list.ToJsonString());
            foreach (var conversation in list["conversations"]!.AsArray())
                answers.Add((await user.GetAsync($"/api/conversations/{conversation!["conversation_id"]}/messages")).ToJsonString());
            answers.Add((await user.GetAsync("/api/users/search?q=a")).ToJsonString());
            using var client = user.Client();
            var avatar = await client.GetAsync("/api/users/alice/avatar");
            answers.Add($"{(int)avatar.StatusCode} {Convert.ToBase64String(await avatar.Content.ReadAsByteArrayAsync())}");
        }
        return answers;
    }

}
