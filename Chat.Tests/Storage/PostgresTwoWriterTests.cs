using System.Net.Http.Json;
using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Npgsql;

namespace Chat.Tests.Storage;

/// <summary>
/// Two server instances (two writers) on one PostgreSQL database, as two cluster nodes share it: what a single SQLite
/// writer made trivially true must hold across writers (issue 11): one conversation per pair, exact unread counts,
/// and ids that clients see only in ascending order.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class PostgresTwoWriterTests
{
    private ChatApp _a = null!;
    private ChatApp _b = null!;

    [SetUp]
    public async Task StartTwoNodes()
    {
        if (PostgresServer.UnavailableReason is { } reason) Assert.Ignore(reason);
        var database = await PostgresServer.CreateDatabaseAsync();
        // Started together: the migrations run once, under the advisory lock, whichever node gets it first.
        var nodes = await Task.WhenAll(
            ChatApp.StartAsync(Transport.Kestrel, databasePath: database, store: Store.Postgres),
            ChatApp.StartAsync(Transport.Kestrel, databasePath: database, store: Store.Postgres));
        (_a, _b) = (nodes[0], nodes[1]);
    }

    [TearDown]
    public async Task StopBoth()
    {
        await _a.StopAsync();
        await _b.StopAsync();
        _a.DeleteDatabase();
    }

    private static TestUser On(ChatApp node, TestUser user) => user with { App = node };

    [Test]
    public async Task NodesStartedTogetherApplyEachMigrationOnce()
    {
        await using var connection = (NpgsqlConnection)_a.OpenDatabase();
        await using var command = new NpgsqlCommand("SELECT version FROM schema_version ORDER BY version", connection);
        var versions = new List<int>();
        await using (var reader = await command.ExecuteReaderAsync())
            while (await reader.ReadAsync()) versions.Add(reader.GetInt32(0));
        Assert.That(versions, Is.EqualTo(Enumerable.Range(1, Chat.Server.Storage.PostgresMigrations.Steps.Length)));
    }

    [Test]
    public async Task AWriteWaitsForAnotherNodesTransactionAtMostBusyTimeoutThenFailsAndTheNextSucceeds()
    {
        var alice = await _a.RegisterAsync("alice");
        await _a.RegisterAsync("bob");
        // A third node on the same database (stopped, not disposed: disposing would drop the shared schema).
        var patient = await ChatApp.StartAsync(Transport.TestHost, new Dictionary<string, string?> { ["Chat:BusyTimeout"] = "00:00:01" },
            databasePath: _a.DatabasePath, store: Store.Postgres);
        try
        {
            var onPatient = alice with { App = patient };

            // Another node's write transaction holds the lock every write takes.
            await using (var holder = (NpgsqlConnection)_a.OpenDatabase())
            {
                await using var tx = await holder.BeginTransactionAsync();
                await using (var take = new NpgsqlCommand("SELECT position FROM stream_position FOR UPDATE", holder, tx))
                    await take.ExecuteScalarAsync();
                using var client = onPatient.Client();
                var started = DateTime.UtcNow;
                var response = await client.PostAsJsonAsync("/api/messages", new JsonObject { ["receiver"] = "bob", ["message"] = "waits" });
                var waited = DateTime.UtcNow - started;
                Assert.That((int)response.StatusCode, Is.EqualTo(500), await response.Content.ReadAsStringAsync());
                Assert.That(waited, Is.LessThan(TimeSpan.FromSeconds(10)), "failed after Chat:BusyTimeout, not Npgsql's 30 s command timeout");
                await tx.RollbackAsync();
            }
            Assert.That((await onPatient.SendAsync("bob", "after")).Long("message_id"), Is.GreaterThan(0));
        }
        finally
        {
            await patient.StopAsync();
        }
    }

    [Test]
    public async Task SimultaneousFirstMessagesThroughTwoNodesCreateOneConversationWithOneNewMessage()
    {
        for (var round = 0; round < 15; round++)
        {
            var x = await _a.RegisterAsync($"xx{round}");
            var y = await _b.RegisterAsync($"yy{round}");
            var sends = await Task.WhenAll(
                On(_a, x).SendAsync(y.Username, "from x via a"),
                On(_b, y).SendAsync(x.Username, "from y via b"),
                On(_b, x).SendAsync(y.Username, "from x via b"),
                On(_a, y).SendAsync(x.Username, "from y via a"));

            Assert.That(sends.Select(s => s.Long("conversation_id")).Distinct().Count(), Is.EqualTo(1), $"round {round}: one conversation");
            Assert.That(sends.Count(s => s.Bool("is_new_conversation")), Is.EqualTo(1), $"round {round}: one message created it");
            Assert.That(sends.Single(s => s.Bool("is_new_conversation")).Long("message_id"), Is.EqualTo(sends.Min(s => s.Long("message_id"))));
            foreach (var node in new[] { _a, _b })
                Assert.That((await On(node, x).GetAsync("/api/conversations"))["conversations"]!.AsArray(), Has.Count.EqualTo(1));
        }
    }

    [Test]
    public async Task ConcurrentSendsAndReadsThroughTwoNodesKeepUnreadCountsExact()
    {
        var sender = await _a.RegisterAsync("sender");
        var reader = await _a.RegisterAsync("reader");
        var conversation = (await sender.SendAsync("reader", "first")).Long("conversation_id");

        // Sends through both nodes while the reader marks read through both nodes, all at once.
        var sends = Enumerable.Range(0, 60).Select(i => On(i % 2 == 0 ? _a : _b, sender).SendAsync("reader", $"m{i}"));
        var reads = Enumerable.Range(0, 20).Select(async i =>
        {
            using var client = (i % 2 == 0 ? _b : _a).CreateClient(reader.Token);
            var response = await client.PostAsync($"/api/conversations/{conversation}/read", null);
            Assert.That((int)response.StatusCode, Is.EqualTo(200));
        });
        await Task.WhenAll(sends.Cast<Task>().Concat(reads));

        foreach (var node in new[] { _a, _b })
        {
            var history = (await On(node, reader).GetAsync($"/api/conversations/{conversation}/messages?limit=200"))["messages"]!.AsArray();
            var unreadInHistory = history.Count(m => !m!["is_read"]!.GetValue<bool>());
            var listed = (await On(node, reader).GetAsync("/api/conversations"))["conversations"]![0]!["unread_count"]!.GetValue<long>();
            Assert.That(history, Has.Count.EqualTo(61));
            Assert.That(listed, Is.EqualTo(unreadInHistory), "unread_count equals the messages above the read cursor");
        }
    }

    [Test]
    public async Task IdsAClientSeesThroughOneNodeNeverGoBackwardsWhileBothNodesWrite()
    {
        // One sender writing through both nodes at once into one conversation, so one history read is one snapshot.
        var writer = await _a.RegisterAsync("writer");
        var watcher = await _a.RegisterAsync("watcher");
        var acked = new ConcurrentBag<long>();
        var conversation = (await writer.SendAsync("watcher", "hello")).Long("conversation_id");
        using var stop = new CancellationTokenSource();

        async Task WriteAsync(ChatApp node, string name)
        {
            for (var i = 0; i < 90; i++) acked.Add((await On(node, writer).SendAsync("watcher", $"{name} {i}")).Long("message_id"));
        }

        // The watcher reads the conversation through node a, over and over. A client that syncs from the last id it
        // saw would skip for good an id that became visible after a larger one: so every id that appears in a read
        // must be above every id the previous read showed.
        var visible = new HashSet<long>();
        var late = new List<string>();
        var reads = 0;
        var watch = Task.Run(async () =>
        {
            while (true)
            {
                var done = stop.IsCancellationRequested;
                var now = new HashSet<long>();
                foreach (var m in (await watcher.GetAsync($"/api/conversations/{conversation}/messages?limit=200"))["messages"]!.AsArray())
                    now.Add(m!["message_id"]!.GetValue<long>());
                var before = visible.Count == 0 ? 0 : visible.Max();
                late.AddRange(now.Where(id => !visible.Contains(id) && id < before).Select(id => $"{id} appeared after {before}"));
                visible.UnionWith(now);
                reads++;
                if (done) return;
            }
        });
        await Task.WhenAll(WriteAsync(_a, "via a"), WriteAsync(_b, "via b"));
        stop.Cancel();
        await watch.WaitAsync(TimeSpan.FromSeconds(60));

        TestContext.Out.WriteLine($"{reads} reads while both nodes wrote");
        Assert.That(reads, Is.GreaterThan(2), "the watcher read while the writes went on");
        Assert.That(late, Is.Empty, "no id became visible below one already seen");
        Assert.That(visible, Is.SupersetOf(acked), "every acknowledged message is visible through node a");
    }
}
