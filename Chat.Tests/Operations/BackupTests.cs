using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Operations;

/// <summary>
/// <c>dotnet Chat.Server.dll backup PATH</c> against a live SQLite database while sends stream in: the copy opens, passes
/// <c>integrity_check</c> and holds every message acknowledged before the backup began; nothing is overwritten; the
/// server it copied from loses nothing and keeps serving; a copy restores by starting a server on it.
/// <c>restore BACKUP</c> puts a backup in place without giving any id a client saw to another message and without
/// undoing a logout.
/// </summary>
[TestFixture]
public sealed class BackupTests
{
    private string _databasePath = null!;
    private string _backupDirectory = null!;

    [SetUp]
    public void SetUp()
    {
        _databasePath = ChatApp.NewDatabasePath();
        Directory.CreateDirectory(Path.GetDirectoryName(_databasePath)!);
        _backupDirectory = Path.Combine(Path.GetTempPath(), "chat-tests", $"backup-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_backupDirectory);
    }

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        ChatApp.DeleteDatabase(_databasePath);
        Directory.Delete(_backupDirectory, recursive: true);
    }

    [Test]
    public async Task ABackupTakenWhileSendsFlowHoldsEveryMessageAcknowledgedBeforeItBegan()
    {
        var backup = Path.Combine(_backupDirectory, "chat-backup.db");
        SendStream stream;
        Dictionary<string, long> ackedBefore;
        await using (var server = await ServerProcess.StartAsync(_databasePath))
        {
            var senderToken = await server.RegisterAsync("backup_sender");
            await server.RegisterAsync("backup_receiver");
            await using var socket = await server.ConnectAsync(senderToken);
            await socket.ExpectAsync("connected");

            stream = new SendStream(socket, "backup_receiver", window: 16);
            stream.Start();
            await stream.WaitForAcksAsync(200, TimeSpan.FromSeconds(60));

            ackedBefore = stream.Acked.ToDictionary();
            var (exit, output) = await ServerProcess.RunCommandAsync("backup", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}");
            var sentDuringBackup = stream.Sent;
            await stream.WaitForAcksAsync(ackedBefore.Count + 100, TimeSpan.FromSeconds(60));
            stream.Stop();
            await stream.Written.WaitAsync(TimeSpan.FromSeconds(10));

            TestContext.Out.WriteLine(output);
            Assert.That(exit, Is.Zero, output);
            Assert.That(output, Does.Contain("integrity ok"));
            Assert.That(sentDuringBackup, Is.GreaterThan(ackedBefore.Count), "sends were in flight while the backup ran");
            Assert.That(stream.Errors, Is.Empty, "the backup never made a send fail");
        }

        Assert.That(StoredMessages.IntegrityCheck(backup), Is.EqualTo("ok"));
        var copied = StoredMessages.All(backup);
        var missing = ackedBefore.Where(a => !copied.TryGetValue(a.Value, out var id) || id != a.Key).Select(a => a.Key).ToList();
        TestContext.Out.WriteLine($"backup: {ackedBefore.Count} acknowledged before it began, {copied.Count} in the copy, {stream.Acked.Count} acknowledged in all");
        Assert.That(missing, Is.Empty, "messages acknowledged before the backup began are missing from it");
        Assert.That(Directory.GetFiles(_backupDirectory).Select(Path.GetFileName), Is.EqualTo(new[] { "chat-backup.db" }), "no partial or journal files left beside it");

        // The source lost nothing, and the copy is a working database: a server started on it serves the history.
        var source = StoredMessages.All(_databasePath);
        Assert.That(stream.Acked.Values.All(source.ContainsKey), Is.True, "every acknowledged message is still in the live database");
        await using var restored = await ServerProcess.StartAsync(backup);
        var token = await restored.LoginAsync("backup_sender");
        using var client = restored.CreateClient(token);
        var conversations = await client.GetStringAsync("/api/conversations");
        Assert.That(conversations, Does.Contain("backup_receiver"));
    }

    [Test]
    public async Task AnExistingFileIsNeverOverwritten()
    {
        var backup = Path.Combine(_backupDirectory, "taken.db");
        await File.WriteAllTextAsync(backup, "precious");
        await using (await ServerProcess.StartAsync(_databasePath)) { }

        var (exit, output) = await ServerProcess.RunCommandAsync("backup", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}");

        Assert.That(exit, Is.EqualTo(1), output);
        Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace: " + output);
        Assert.That(output, Does.Contain("already exists"));
        Assert.That(await File.ReadAllTextAsync(backup), Is.EqualTo("precious"));
    }

    [TestCase("missing", "no database at")]
    [TestCase("postgres", "pg_dump")]
    [TestCase("nopath", "Usage:")]
    public async Task ABackupThatCannotBeTakenSaysWhyInOneLine(string situation, string expected)
    {
        string[] args = situation switch
        {
            "missing" => ["backup", Path.Combine(_backupDirectory, "x.db"), $"--ConnectionStrings:Chat=Data Source={_databasePath}.absent"],
            "postgres" => ["backup", Path.Combine(_backupDirectory, "x.db"), "--Chat:Database:Provider=Postgres"],
            _ => ["backup"],
        };

        var (exit, output) = await ServerProcess.RunCommandAsync(args);

        Assert.That(exit, Is.EqualTo(1), output);
        Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), "one line, no stack trace: " + output);
        Assert.That(output, Does.Contain(expected));
        Assert.That(Directory.GetFiles(_backupDirectory), Is.Empty, "nothing written");
    }

    /// <summary>Sends <paramref name="count"/> messages over HTTP and returns their ids.</summary>
    private static async Task<List<long>> SendAsync(ServerProcess server, string token, string receiver, int count)
    {
        using var client = server.CreateClient(token);
        var ids = new List<long>();
        for (var i = 0; i < count; i++)
            ids.Add((await (await client.SendMessageAsync(new JsonObject { ["receiver"] = receiver, ["message"] = $"m{i}" })).JsonAsync(201)).Long("message_id"));
        return ids;
    }

    private static async Task StopAsync(ServerProcess server)
    {
        await server.TerminateAsync();
        Assert.That(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), Is.True, "the server did not stop");
    }

    [Test]
    public async Task ARestoreNeverGivesAnIdAClientSawToAnotherMessageAndSignsEveryoneOut()
    {
        var backup = Path.Combine(_backupDirectory, "before.db");
        string aliceToken;
        long newestSeen;
        await using (var server = await ServerProcess.StartAsync(_databasePath))
        {
            aliceToken = await server.RegisterAsync("restore_alice");
            var bobToken = await server.RegisterAsync("restore_bob");
            var kept = await SendAsync(server, aliceToken, "restore_bob", 5);
            Assert.That((await ServerProcess.RunCommandAsync("backup", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}")).Exit, Is.Zero);
            // After the backup: messages the clients saw, and a logout the backup does not know about.
            newestSeen = (await SendAsync(server, aliceToken, "restore_bob", 5)).Max();
            using (var bob = server.CreateClient(bobToken))
                Assert.That((await bob.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(HttpStatusCode.NoContent));
            Assert.That(kept.Max(), Is.LessThan(newestSeen));
            await StopAsync(server);
        }

        var (exit, output) = await ServerProcess.RunCommandAsync("restore", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}");
        TestContext.Out.WriteLine(output);
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain($"new message ids start after {newestSeen}"));
        var movedAside = Directory.GetFiles(Path.GetDirectoryName(_databasePath)!, Path.GetFileName(_databasePath) + ".before-restore-*");
        Assert.That(movedAside, Is.Not.Empty, "the replaced database is kept");

        await using (var restored = await ServerProcess.StartAsync(_databasePath))
        {
            using (var stale = restored.CreateClient(aliceToken))
                Assert.That((await stale.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized), "sessions are signed out");
            var alice = await restored.LoginAsync("restore_alice");
            var bob = await restored.LoginAsync("restore_bob");
            using var client = restored.CreateClient(bob);
            var conversation = (await client.GetFromJsonAsync<JsonObject>("/api/conversations"))!["conversations"]!.AsArray().Single()!.AsObject();
            var history = (await client.GetFromJsonAsync<JsonObject>($"/api/conversations/{conversation.Long("conversation_id")}/messages"))!["messages"]!.AsArray();
            Assert.That(history, Has.Count.EqualTo(5), "the backup's messages, not those sent after it");

            var next = (await SendAsync(restored, alice, "restore_bob", 1)).Single();
            Assert.That(next, Is.GreaterThan(newestSeen), "a new message must not take an id a client already saw");
        }
        foreach (var file in movedAside) File.Delete(file);
    }

    [Test]
    public async Task ARestoreUnderARunningServerIsRefusedAndChangesNothing()
    {
        var backup = Path.Combine(_backupDirectory, "before.db");
        await using var server = await ServerProcess.StartAsync(_databasePath);
        var token = await server.RegisterAsync("busy_alice");
        await server.RegisterAsync("busy_bob");
        await SendAsync(server, token, "busy_bob", 2);
        Assert.That((await ServerProcess.RunCommandAsync("backup", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}")).Exit, Is.Zero);
        var newest = (await SendAsync(server, token, "busy_bob", 2)).Max();

        var (exit, output) = await ServerProcess.RunCommandAsync("restore", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}");

        Assert.That(exit, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("in use"));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(_databasePath)!, Path.GetFileName(_databasePath) + ".before-restore-*"), Is.Empty, "nothing was moved");
        // The running server did not notice: it keeps storing, with ids after the ones it gave.
        Assert.That((await SendAsync(server, token, "busy_bob", 1)).Single(), Is.EqualTo(newest + 1));
        Assert.That(StoredMessages.All(_databasePath), Has.Count.EqualTo(5));
    }

    [Test]
    public async Task ABackupIsOneSelfContainedFileThatLeavesNothingBesideItWhenOpened()
    {
        var backup = Path.Combine(_backupDirectory, "single.db");
        await using (var server = await ServerProcess.StartAsync(_databasePath))
        {
            var token = await server.RegisterAsync("single_alice");
            await server.RegisterAsync("single_bob");
            await SendAsync(server, token, "single_bob", 3);
            Assert.That((await ServerProcess.RunCommandAsync("backup", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}")).Exit, Is.Zero);
        }

        Assert.That(StoredMessages.IntegrityCheck(backup), Is.EqualTo("ok"));
        Assert.That(StoredMessages.All(backup), Has.Count.EqualTo(3));
        Assert.That(Directory.GetFiles(_backupDirectory).Select(Path.GetFileName), Is.EqualTo(new[] { "single.db" }), "no -wal or -shm left by opening it");
    }

    [Test]
    public async Task WhenTheDatabaseWasLostIdsContinueFarPastTheBackup()
    {
        var backup = Path.Combine(_backupDirectory, "before.db");
        long newestInBackup;
        await using (var server = await ServerProcess.StartAsync(_databasePath))
        {
            var token = await server.RegisterAsync("lost_alice");
            await server.RegisterAsync("lost_bob");
            newestInBackup = (await SendAsync(server, token, "lost_bob", 3)).Max();
            Assert.That((await ServerProcess.RunCommandAsync("backup", backup, $"--ConnectionStrings:Chat=Data Source={_databasePath}")).Exit, Is.Zero);
            await StopAsync(server);
        }
        ChatApp.DeleteDatabase(_databasePath);

        var (exit, output) = await ServerProcess.RunCommandAsync("restore", backup, "--skip-ids", "1000", $"--ConnectionStrings:Chat=Data Source={_databasePath}");
        Assert.That(exit, Is.Zero, output);
        Assert.That(output, Does.Contain("could not be read"));

        await using var restored = await ServerProcess.StartAsync(_databasePath);
        var alice = await restored.LoginAsync("lost_alice");
        Assert.That((await SendAsync(restored, alice, "lost_bob", 1)).Single(), Is.EqualTo(newestInBackup + 1000 + 1));
    }
}
