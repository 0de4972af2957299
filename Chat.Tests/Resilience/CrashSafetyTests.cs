using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Resilience;

/// <summary>
/// The real server process is killed with SIGKILL in the middle of a stream of sends and restarted on the same
/// file: every acknowledged message is there and the file passes <c>PRAGMA integrity_check</c>.
/// </summary>
[BothStores]
[NonParallelizable]
public sealed class CrashSafetyTests
{
    private string _databasePath = null!;

    [SetUp]
    public async Task SetUp() => _databasePath = await ChatApp.NewDatabaseAsync(BothStoresAttribute.Current);

    [TearDown]
    public void TearDown() => ChatApp.DeleteDatabase(_databasePath);

    [Test]
    public async Task EveryAcknowledgedMessageSurvivesSigkillMidStream()
    {
        if (!ChatApp.IsPostgres(_databasePath)) Directory.CreateDirectory(Path.GetDirectoryName(_databasePath)!);
        SendStream stream;
        await using (var server = await ServerProcess.StartAsync(_databasePath))
        {
            var senderToken = await server.RegisterAsync("crash_sender");
            await server.RegisterAsync("crash_receiver");
            await using var socket = await server.ConnectAsync(senderToken);
            await socket.ExpectAsync("connected");

            stream = new SendStream(socket, "crash_receiver");
            stream.Start();
            // Kill while sends are in flight: the stream keeps a window of unanswered sends open at all times.
            await stream.WaitForAcksAsync(300, TimeSpan.FromSeconds(60));
            server.Kill();
            Assert.That(await server.WaitForExitAsync(TimeSpan.FromSeconds(10)), Is.True, "the killed process did not exit");
            await stream.Ended.WaitAsync(TimeSpan.FromSeconds(15));
            stream.Stop();
        }

        var acked = stream.Acked.ToDictionary();
        TestContext.Out.WriteLine($"crash: {stream.Sent} sent, {acked.Count} acked before SIGKILL, {stream.Sent - acked.Count - stream.Errors.Count} unanswered");
        Assert.That(acked, Has.Count.GreaterThanOrEqualTo(300));
        Assert.That(stream.Sent, Is.GreaterThan(acked.Count), "the kill should land mid-stream, with sends unanswered");

        await using (var restarted = await ServerProcess.StartAsync(_databasePath))
        {
            var stored = StoredMessages.All(_databasePath);
            var storedByClientId = stored.Where(m => m.Value is not null).ToDictionary(m => m.Value!, m => m.Key);
            var missing = acked.Where(a => !stored.ContainsKey(a.Value) || stored[a.Value] != a.Key).Select(a => a.Key).ToList();
            TestContext.Out.WriteLine($"crash: {stored.Count} stored after restart, {stored.Count - acked.Count} stored but unacknowledged, {missing.Count} acknowledged but missing");
            Assert.That(missing, Is.Empty, "acknowledged messages lost by SIGKILL");
            Assert.That(storedByClientId.Keys.All(k => k.StartsWith('s')), Is.True);
            if (!ChatApp.IsPostgres(_databasePath)) Assert.That(StoredMessages.IntegrityCheck(_databasePath), Is.EqualTo("ok"));

            // The restarted server serves the same data: users, the conversation and the newest acked message.
            var token = await restarted.LoginAsync("crash_sender");
            using var client = restarted.CreateClient(token);
            var conversations = await client.GetFromJsonAsync<JsonObject>("/api/conversations");
            var conversation = conversations!["conversations"]!.AsArray().Single()!.AsObject();
            var newestAcked = acked.Values.Max();
            var history = await client.GetFromJsonAsync<JsonObject>(
                $"/api/conversations/{conversation.Long("conversation_id")}/messages?before={newestAcked + 1}&limit=1");
            Assert.That(history!["messages"]!.AsArray().Single()!.AsObject().Long("message_id"), Is.EqualTo(newestAcked));

            // And it takes new sends on the recovered file.
            var response = await client.PostAsJsonAsync("/api/messages", new JsonObject { ["receiver"] = "crash_receiver", ["message"] = "after restart" });
            Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
        }
    }
}
