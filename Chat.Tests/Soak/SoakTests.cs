using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Chat.Tests.Soak;

/// <summary>
/// A bounded soak over real Kestrel sockets on 127.0.0.1: hundreds of sockets connect, send, read and
/// disconnect at random for a fixed time. Then every acknowledged message must be stored once and replay
/// once to both participants, no socket may see a message twice, and memory and handles must come back.
/// Not part of the default run; <c>.ci/run</c> runs it with <c>--filter TestCategory=Soak</c>.
/// </summary>
[Category("Soak")]
[Explicit("Soak test: minutes long; .ci/run runs it with --filter TestCategory=Soak")]
[NonParallelizable]
public sealed class SoakTests
{
    private const int Users = 120;
    private const int Workers = 240;
    private const long ManagedGrowthBoundBytes = 64L * 1024 * 1024;
    private const int HandleGrowthBound = 100;

    [Test]
    public async Task RandomConnectSendReadDisconnectLosesAndDuplicatesNothing()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("CHAT_SOAK_SECONDS"), out var s) ? s : 90;
        var seed = Environment.TickCount;
        TestContext.Progress.WriteLine($"soak: {seconds}s, {Users} users, {Workers} concurrent workers, seed {seed}");

        await using var app = await ChatApp.StartAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Chat:MaxSocketsPerUser"] = "1000",
        });
        var users = new List<TestUser>();
        for (var i = 0; i < Users; i++) users.Add(await app.RegisterAsync($"soak{i:D3}"));

        var acked = new ConcurrentDictionary<long, (string Sender, string Receiver)>();
        var liveDuplicates = 0;
        var errors = new ConcurrentBag<string>();
        var sockets = 0;
        var peakSockets = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);

        // Warm up once so the baseline includes JIT, pools and caches.
        await RunWorkersAsync(TimeSpan.FromSeconds(3), new Random(seed ^ 1));
        var (baselineManaged, baselineHandles) = Measure();
        TestContext.Progress.WriteLine($"soak: baseline managed {baselineManaged / 1024 / 1024} MiB, handles {baselineHandles}");

        await RunWorkersAsync(deadline - DateTime.UtcNow, new Random(seed));

        var (endManaged, endHandles) = Measure();
        TestContext.Progress.WriteLine($"soak: {acked.Count} messages acknowledged, peak {peakSockets} sockets, " +
            $"managed {endManaged / 1024 / 1024} MiB (bound +{ManagedGrowthBoundBytes / 1024 / 1024}), handles {endHandles} (bound +{HandleGrowthBound})");

        Assert.That(errors, Is.Empty, string.Join("\n", errors.Take(10)));
        Assert.That(liveDuplicates, Is.Zero, "a socket received the same message twice");
        Assert.That(peakSockets, Is.GreaterThanOrEqualTo(100), "the soak should hold hundreds of sockets at once");

        // Stored exactly what was acknowledged.
        await using (var db = new SqliteConnection($"Data Source={app.DatabasePath};Mode=ReadOnly;Pooling=False"))
        {
            await db.OpenAsync();
            await using var count = db.CreateCommand();
            count.CommandText = "SELECT COUNT(*) FROM messages";
            Assert.That((long)(await count.ExecuteScalarAsync())!, Is.EqualTo(acked.Count), "stored messages == acknowledged messages");
        }

        // Every participant replays each of its messages exactly once.
        foreach (var user in users)
        {
            var expected = acked.Where(kv => kv.Value.Sender == user.Username || kv.Value.Receiver == user.Username).Select(kv => kv.Key).ToHashSet();
            var replayed = await SyncAllAsync(user);
            Assert.That(replayed, Has.Count.EqualTo(replayed.Distinct().Count()), $"{user.Username}: duplicates in sync");
            Assert.That(replayed.ToHashSet().SetEquals(expected), Is.True, $"{user.Username}: sync differs from what was acknowledged");
        }

        Assert.That(endManaged - baselineManaged, Is.LessThan(ManagedGrowthBoundBytes), "managed memory growth");
        Assert.That(endHandles - baselineHandles, Is.LessThan(HandleGrowthBound), "handle growth");

        async Task RunWorkersAsync(TimeSpan duration, Random random)
        {
            var until = DateTime.UtcNow + duration;
            var seeds = Enumerable.Range(0, Workers).Select(_ => random.Next()).ToList();
            await Task.WhenAll(seeds.Select(workerSeed => Task.Run(() => WorkerAsync(new Random(workerSeed), until))));
        }

        async Task WorkerAsync(Random random, DateTime until)
        {
            while (DateTime.UtcNow < until)
            {
                var me = users[random.Next(users.Count)];
                ChatSocket socket;
                try
                {
                    socket = await me.ConnectAsync();
                }
                catch (Exception e)
                {
                    errors.Add($"connect: {e.Message}");
                    return;
                }
                var open = Interlocked.Increment(ref sockets);
                InterlockedMax(ref peakSockets, open);
                try
                {
                    await socket.ExpectAsync("connected");
                    var sends = random.Next(0, 12);
                    for (var i = 0; i < sends && DateTime.UtcNow < until; i++)
                    {
                        var other = users[random.Next(users.Count)];
                        if (other == me) continue;
                        var id = Guid.NewGuid().ToString("N");
                        await socket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = other.Username, ["message"] = $"soak {id}", ["client_msg_id"] = id });
                        var answer = await socket.WaitForAsync("ack", TimeSpan.FromSeconds(30), f => f["client_msg_id"]?.GetValue<string>() == id);
                        acked[answer.Long("message_id")] = (me.Username, other.Username);
                        if (random.Next(4) == 0) await Task.Delay(random.Next(1, 50));
                    }
                    // Linger a little to receive, then leave.
                    await Task.Delay(random.Next(0, 200));
                }
                catch (Exception e)
                {
                    errors.Add($"{me.Username}: {e.GetType().Name}: {e.Message}");
                }
                finally
                {
                    List<JsonObject> seen;
                    lock (socket.History) seen = [.. socket.History];
                    var ids = seen.Where(f => f.Type() is "chat_message" or "message_sent").Select(f => (f.Type(), f.Long("message_id"))).ToList();
                    if (ids.Count != ids.Distinct().Count()) Interlocked.Increment(ref liveDuplicates);
                    await socket.DisposeAsync();
                    Interlocked.Decrement(ref sockets);
                }
            }
        }
    }

    private static async Task<List<long>> SyncAllAsync(TestUser user)
    {
        await using var socket = await user.ConnectAsync();
        await socket.ExpectAsync("connected");
        var ids = new List<long>();
        long after = 0;
        while (true)
        {
            await socket.SendAsync(new JsonObject { ["type"] = "sync", ["after_message_id"] = after, ["limit"] = 1000 });
            while (true)
            {
                var frame = await socket.NextAsync();
                if (frame.Type() is "chat_message" or "message_sent") ids.Add(frame.Long("message_id"));
                if (frame.Type() != "sync_complete") continue;
                after = frame.Long("last_message_id");
                if (!frame.Bool("has_more")) return ids;
                break;
            }
        }
    }

    private static (long Managed, int Handles) Measure()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(true), process.HandleCount);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current) { }
    }
}
