using Dapper;
using Chat.Server;
using Chat.Server.Storage;
using Chat.Tests.Infrastructure;
using Chat.Tests.Realtime;
using Chat.Tests.Resilience;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Chat.Tests.Storage;

/// <summary>
/// The writer commits without waiting for the disk and fsyncs the WAL on the dispatch loop, so these pin down what
/// that must never change: nobody hears of a write before its fsync, a failed fsync refuses what it covered, and the
/// WAL is copied back into the database by the background checkpointer rather than by the writer.
/// </summary>
[TestFixture]
public sealed class DurabilityTests
{
    private ChatApp? _app;

    [TearDown]
    public async Task TearDown()
    {
        if (_app is not null) await _app.DisposeAsync();
    }

    private async Task<(TestUser Alice, ChatSocket AliceSocket, ChatSocket BobSocket)> StartAsync(Action<IServiceCollection>? services = null)
    {
        _app = await ChatApp.StartAsync(Transport.TestHost, services: services);
        var alice = await _app.RegisterAsync("alice");
        var bob = await _app.RegisterAsync("bob");
        var aliceSocket = await alice.ConnectAsync();
        await aliceSocket.ExpectAsync("connected");
        var bobSocket = await bob.ConnectAsync();
        await bobSocket.ExpectAsync("connected");
        await aliceSocket.DrainAsync();
        return (alice, aliceSocket, bobSocket);
    }

    private long StoredCount() => StoredMessages.All(_app!.DatabasePath).Count;

    [Test]
    public async Task NobodyHearsOfAMessageBeforeTheWalHoldingItIsFsynced()
    {
        var database = (GatedDatabase?)null;
        var (_, aliceSocket, bobSocket) = await StartAsync(s => s.AddSingleton<SqliteDatabase>(sp =>
            database = new GatedDatabase(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<IOptions<ChatOptions>>())));
        database!.Hold();

        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", "held until durable", "m1"));
        Assert.That(database.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True, "the dispatch loop never asked for an fsync");
        Assert.That(StoredCount(), Is.EqualTo(1), "the message is committed while its fsync is pending");
        Assert.That(await aliceSocket.TryNextAsync(TimeSpan.FromMilliseconds(400)), Is.Null, "ack before the fsync");
        Assert.That(await bobSocket.TryNextAsync(TimeSpan.FromMilliseconds(100)), Is.Null, "chat_message before the fsync");

        database.Release();
        var ack = await aliceSocket.WaitForAsync("ack");
        var delivered = await bobSocket.WaitForAsync("chat_message");
        Assert.That(delivered["message_id"]!.GetValue<long>(), Is.EqualTo(ack["message_id"]!.GetValue<long>()));
        Assert.That(database.Syncs, Is.GreaterThanOrEqualTo(1));
    }

    /// <summary>Every message id a client could see right now, through each read path: a new socket's connected, sync, history, conversation lists.</summary>
    private static async Task<HashSet<long>> IdsVisibleAsync(TestUser alice, TestUser bob)
    {
        var ids = new HashSet<long>();
        foreach (var user in new[] { alice, bob })
        {
            await using var socket = await user.ConnectAsync();
            ids.Add((await socket.ExpectAsync("connected"))["last_message_id"]!.GetValue<long>());
            await socket.SendAsync(new System.Text.Json.Nodes.JsonObject { ["type"] = "sync", ["after_message_id"] = 0 });
            System.Text.Json.Nodes.JsonObject frame;
            while ((frame = await socket.NextAsync())["type"]!.GetValue<string>() != "sync_complete")
                if (frame["message_id"] is { } id) ids.Add(id.GetValue<long>());
            ids.Add(frame["last_message_id"]!.GetValue<long>());
            foreach (var conversation in (await user.GetAsync("/api/conversations"))["conversations"]!.AsArray())
            {
                if (conversation!["last_message"]?["message_id"] is { } last) ids.Add(last.GetValue<long>());
                var history = await user.GetAsync($"/api/conversations/{conversation["conversation_id"]}/messages");
                foreach (var message in history["messages"]!.AsArray()) ids.Add(message!["message_id"]!.GetValue<long>());
            }
        }
        ids.Remove(0);
        return ids;
    }

    [Test]
    public async Task NoReadShowsACommittedMessageBeforeItsFsyncAndEveryReadShowsItAfter()
    {
        var database = (GatedDatabase?)null;
        var (alice, aliceSocket, bobSocket) = await StartAsync(s => s.AddSingleton<SqliteDatabase>(sp =>
            database = new GatedDatabase(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<IOptions<ChatOptions>>())));
        var app = _app!;
        var bob = new TestUser(app, "bob", await app.LoginAsync("bob", "password123"), "password123");
        var carol = await app.RegisterAsync("carol");
        var first = (await alice.SendAsync("bob", "durable")).Long("message_id");
        await bobSocket.WaitForAsync("chat_message");

        database!.Hold();
        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", "committed, fsync pending", "held-1"));
        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("carol", "a new conversation, fsync pending", "held-2"));
        Assert.That(database.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True, "the dispatch loop never asked for an fsync");
        await Deadline.WaitUntilAsync(() => StoredCount() == 3, TimeSpan.FromSeconds(10), "both held messages to be committed");
        var pending = StoredMessages.All(app.DatabasePath).Keys.Where(id => id > first).ToList();

        var visible = await IdsVisibleAsync(alice, bob);
        visible.UnionWith(await IdsVisibleAsync(carol, bob));
        Assert.Multiple(async () =>
        {
            Assert.That(visible, Is.EquivalentTo(new[] { first }), "before the fsync, every read path shows only the durable message");
            Assert.That((await bob.GetAsync("/api/conversations"))["conversations"]![0]!["unread_count"]!.GetValue<long>(), Is.EqualTo(1),
                "the unread count leaves out the pending message");
            Assert.That((await carol.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty,
                "a conversation whose only message is pending is not listed yet");
        });

        database.Release();
        await aliceSocket.WaitForAsync("ack");
        await aliceSocket.WaitForAsync("ack", match: f => f.Str("client_msg_id") == "held-2");
        var after = await IdsVisibleAsync(alice, bob);
        after.UnionWith(await IdsVisibleAsync(carol, bob));
        Assert.That(after, Is.EquivalentTo(pending.Append(first)), "after the fsync, every read path shows both");
        Assert.That((await bob.GetAsync("/api/conversations"))["conversations"]![0]!["unread_count"]!.GetValue<long>(), Is.EqualTo(2));
    }

    [Test]
    public async Task WhenAPowerLossEatsTheUndurableTailTheReissuedIdIsOneNoClientEverSaw()
    {
        var database = (GatedDatabase?)null;
        Action<IServiceCollection> gated = s => s.AddSingleton<SqliteDatabase>(sp =>
            database = new GatedDatabase(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<IOptions<ChatOptions>>()));
        var (alice, aliceSocket, bobSocket) = await StartAsync(gated);
        var app = _app!;
        var bob = new TestUser(app, "bob", await app.LoginAsync("bob", "password123"), "password123");
        var seen = new HashSet<long> { (await alice.SendAsync("bob", "durable")).Long("message_id") };

        // What the disk holds for sure now: a consistent copy, as the machine would find it after a power loss.
        var snapshot = app.DatabasePath + ".durable";
        using (var connection = StoredMessages.Open(app.DatabasePath))
            connection.Execute($"VACUUM INTO '{snapshot}'");

        database!.Hold();
        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", "lost with the power", "lost-1"));
        Assert.That(database.Entered.Wait(TimeSpan.FromSeconds(10)), Is.True);
        await Deadline.WaitUntilAsync(() => StoredCount() == 2, TimeSpan.FromSeconds(10), "the message to be committed");
        var lostId = StoredMessages.All(app.DatabasePath).Keys.Max();
        seen.UnionWith(await IdsVisibleAsync(alice, bob));
        database.ReleaseWithFailure();
        Assert.That((await aliceSocket.WaitForAsync("error"))["code"]!.GetValue<string>(), Is.EqualTo("internal"), "never acknowledged");
        foreach (var frame in aliceSocket.History.Concat(bobSocket.History))
            if (frame["message_id"] is { } id) seen.Add(id.GetValue<long>());
        await aliceSocket.DisposeAsync();
        await bobSocket.DisposeAsync();

        // The power loss: the server is gone and the disk holds only what was durable.
        await app.StopAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "-wal", "-shm" }) File.Delete(app.DatabasePath + suffix);
        File.Copy(snapshot, app.DatabasePath, overwrite: true);
        File.Delete(snapshot);
        var path = app.DatabasePath;
        _app = await ChatApp.StartAsync(Transport.TestHost, databasePath: path, services: gated);

        var again = new TestUser(_app, "alice", await _app.LoginAsync("alice", "password123"), "password123");
        var reissued = (await again.SendAsync("bob", "after the power came back")).Long("message_id");
        Assert.That(reissued, Is.EqualTo(lostId), "the lost tail's id is given again (SQLite's sequence lost it too)");
        Assert.That(seen, Does.Not.Contain(lostId), "but no client ever saw it: no frame, no read, no answer showed it");
    }

    [Test]
    public async Task AnFsyncThatFailsOnceIsRetriedAndTheSendIsAcknowledgedAndDeliveredOnce()
    {
        var (_, aliceSocket, bobSocket) = await StartAsync(s => s.AddSingleton<SqliteDatabase>(sp =>
            new FailingDatabase(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<IOptions<ChatOptions>>(), failures: 1)));

        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", "disk trouble", "retry-me"));
        var ack = await aliceSocket.WaitForAsync("ack");
        var delivered = await bobSocket.WaitForAsync("chat_message");
        Assert.That(delivered["message_id"]!.GetValue<long>(), Is.EqualTo(ack["message_id"]!.GetValue<long>()));
        Assert.That(await bobSocket.TryNextAsync(TimeSpan.FromMilliseconds(300)) is { } more && more.Type() == "chat_message", Is.False, "delivered once");
        var stored = StoredMessages.All(_app!.DatabasePath);
        Assert.That(stored.Keys, Is.EqualTo(new[] { ack["message_id"]!.GetValue<long>() }));
    }

    [Test]
    public async Task AnFsyncThatKeepsFailingStopsTheWriterSoNothingLaterIsAcknowledgedAndHealthIs503()
    {
        var (_, aliceSocket, bobSocket) = await StartAsync(s => s.AddSingleton<SqliteDatabase>(sp =>
            new FailingDatabase(sp.GetRequiredService<IConfiguration>(), sp.GetRequiredService<IOptions<ChatOptions>>(), failures: int.MaxValue)));

        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", "disk trouble", "first"));
        Assert.That((await aliceSocket.ExpectAsync("error"))["code"]!.GetValue<string>(), Is.EqualTo("internal"));
        // A later send must not be acknowledged either: its ack would show an id past a write that may not be on disk.
        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", "still broken", "second"));
        Assert.That((await aliceSocket.ExpectAsync("error"))["code"]!.GetValue<string>(), Is.EqualTo("internal"));
        Assert.That(await bobSocket.TryNextAsync(TimeSpan.FromMilliseconds(300)), Is.Null, "nothing delivered");
        using var client = _app!.CreateClient();
        Assert.That((int)(await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(503));
    }

    [Test]
    public async Task TheBackgroundCheckpointerCopiesTheWalIntoTheDatabaseFile()
    {
        var (alice, aliceSocket, _) = await StartAsync();
        for (var i = 0; i < 300; i++) await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("bob", $"message {i}", $"c{i}"));
        for (var i = 0; i < 300; i++) await aliceSocket.WaitForAsync("ack");

        // The writer's own threshold (WalCheckpointer.WriterFallbackPages) is far above what 300 messages write,
        // so only the background checkpointer can have copied every frame back into the database file.
        var (frames, backfilled) = (0u, 0u);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline)
        {
            (frames, backfilled) = WalIndex(_app!.DatabasePath);
            if (frames > 0 && backfilled == frames) break;
            await Task.Delay(50);
        }
        Assert.That(frames, Is.GreaterThan(0u).And.LessThan((uint)WalCheckpointer.WriterFallbackPages));
        Assert.That(backfilled, Is.EqualTo(frames), "frames left in the WAL");
        Assert.That(StoredCount(), Is.EqualTo(300));
        await alice.SendAsync("bob", "still writing after the checkpoint");
        Assert.That(StoredCount(), Is.EqualTo(301));
    }

    /// <summary>mxFrame (frames in the WAL) and nBackfill (frames already copied into the database) from the wal-index.</summary>
    private static (uint Frames, uint Backfilled) WalIndex(string databasePath)
    {
        using var shm = new FileStream(databasePath + "-shm", FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var header = new byte[100];
        shm.ReadExactly(header);
        return (BitConverter.ToUInt32(header, 16), BitConverter.ToUInt32(header, 96));
    }

    /// <summary>Holds every WAL fsync until the test opens the gate.</summary>
    private sealed class GatedDatabase(IConfiguration configuration, IOptions<ChatOptions> options) : SqliteDatabase(configuration, options)
    {
        private readonly ManualResetEventSlim _gate = new(true);
        private int _syncs;
        public ManualResetEventSlim Entered { get; } = new(false);
        public int Syncs => Volatile.Read(ref _syncs);
        private volatile bool _failHeld;
        public void Hold() => _gate.Reset();
        public void Release() => _gate.Set();

        /// <summary>Opens the gate and fails the fsync that was held and every later one, as a power loss would end them.</summary>
        public void ReleaseWithFailure()
        {
            _failHeld = true;
            _gate.Set();
        }

        public override void SyncWal()
        {
            Entered.Set();
            _gate.Wait(TimeSpan.FromSeconds(30));
            // From the power loss on, no fsync succeeds (the writer must not retry its way past it).
            if (_failHeld) throw new IOException("Input/output error");
            base.SyncWal();
            Interlocked.Increment(ref _syncs);
        }
    }

    /// <summary>The first <paramref name="failures"/> WAL fsyncs fail as a dying disk's would; later ones work.</summary>
    private sealed class FailingDatabase(IConfiguration configuration, IOptions<ChatOptions> options, int failures) : SqliteDatabase(configuration, options)
    {
        private int _calls;

        public override void SyncWal()
        {
            if (Interlocked.Increment(ref _calls) <= failures) throw new IOException("Input/output error");
            base.SyncWal();
        }
    }
}
