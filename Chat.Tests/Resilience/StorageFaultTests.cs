using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Chat.Tests.Resilience;

/// <summary>
/// Another process holds the database's write lock: sends fail with <c>internal</c> and store nothing,
/// <c>/healthz</c> and <c>/healthz/ready</c> report 503 (<c>/healthz/live</c> stays 200), and once the lock is released the same server recovers by itself.
/// </summary>
[TestFixture]
public sealed class StorageFaultTests
{
    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(Transport.TestHost, new Dictionary<string, string?> { ["Chat:BusyTimeout"] = "00:00:00.500" });

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private long CountMessages()
    {
        using var connection = StoredMessages.Open(_app.DatabasePath);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM messages";
        return (long)command.ExecuteScalar()!;
    }

    private async Task<HttpStatusCode> HealthAsync(string path = "/healthz")
    {
        using var client = _app.CreateClient();
        return (await client.GetAsync(path)).StatusCode;
    }

    [Test]
    public async Task ALockedDatabaseFailsSendsWithInternalStoresNothingAndRecoversWhenReleased()
    {
        var sender = await _app.RegisterAsync("fault_sender");
        var receiver = await _app.RegisterAsync("fault_receiver");
        await sender.SendAsync("fault_receiver", "before the fault");
        await using var senderSocket = await sender.ConnectAsync();
        await senderSocket.ExpectAsync("connected");
        await using var receiverSocket = await receiver.ConnectAsync();
        await receiverSocket.ExpectAsync("connected");
        Assert.That(await HealthAsync(), Is.EqualTo(HttpStatusCode.OK));
        Assert.That(CountMessages(), Is.EqualTo(1));

        // Another process takes the write lock and keeps it.
        var locker = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _app.DatabasePath, Pooling = false }.ToString());
        locker.Open();
        try
        {
            using (var command = locker.CreateCommand())
            {
                command.CommandText = "CREATE TABLE IF NOT EXISTS lock_holder (x INTEGER); BEGIN IMMEDIATE; INSERT INTO lock_holder VALUES (1);";
                command.ExecuteNonQuery();
            }

            using (var client = sender.Client())
            {
                var response = await client.PostAsJsonAsync("/api/messages",
                    new JsonObject { ["receiver"] = "fault_receiver", ["message"] = "during the fault (http)", ["client_msg_id"] = "fault-http" });
                var body = await response.Content.ReadFromJsonAsync<JsonObject>();
                Assert.That((int)response.StatusCode, Is.EqualTo(500), body?.ToJsonString());
                Assert.That(body!.Str("code"), Is.EqualTo("internal"));
            }

            await senderSocket.SendAsync(new JsonObject
            {
                ["type"] = "send_message", ["receiver"] = "fault_receiver", ["message"] = "during the fault (ws)", ["client_msg_id"] = "fault-ws",
            });
            var error = await senderSocket.WaitForAsync("error", TimeSpan.FromSeconds(15));
            Assert.That(error.Str("code"), Is.EqualTo("internal"), error.ToJsonString());
            Assert.That(error.Str("client_msg_id"), Is.EqualTo("fault-ws"));

            Assert.That(await HealthAsync(), Is.EqualTo(HttpStatusCode.ServiceUnavailable), "/healthz must report a database that cannot commit");
            Assert.That(await HealthAsync("/healthz/ready"), Is.EqualTo(HttpStatusCode.ServiceUnavailable), "a node that cannot commit is not ready");
            Assert.That(await HealthAsync("/healthz/live"), Is.EqualTo(HttpStatusCode.OK), "the process itself is fine: a restart would not help");
            using (var client = _app.CreateClient())
                await Chat.Tests.Hardening.HostileInput.AssertProblemAsync(await client.GetAsync("/healthz"), 503, "internal", "/healthz while the database is locked");
            // Nobody was told about a message that does not exist.
            Assert.That(await receiverSocket.DrainAsync(), Has.None.Matches<JsonObject>(f => f.Type() == "chat_message"));
            Assert.That(await senderSocket.DrainAsync(), Has.None.Matches<JsonObject>(f => f.Type() is "message_sent" or "ack"));

            using (var command = locker.CreateCommand())
            {
                command.CommandText = "ROLLBACK;";
                command.ExecuteNonQuery();
            }
        }
        finally
        {
            locker.Dispose();
        }

        Assert.That(CountMessages(), Is.EqualTo(1), "a failed send left something behind");

        // Same server, no restart: healthy again and sending again.
        await Deadline.WaitUntilAsync(async () => await HealthAsync() == HttpStatusCode.OK, TimeSpan.FromSeconds(10), "/healthz to recover");
        Assert.That(await HealthAsync("/healthz/ready"), Is.EqualTo(HttpStatusCode.OK), "ready again");
        var recovered = await sender.SendAsync("fault_receiver", "after the fault (http)", "fault-http");
        Assert.That(recovered.Str("message"), Is.EqualTo("after the fault (http)"), "the refused client_msg_id was not consumed");
        await receiverSocket.WaitForAsync("chat_message", match: f => f.Long("message_id") == recovered.Long("message_id"));

        await senderSocket.SendAsync(new JsonObject
        {
            ["type"] = "send_message", ["receiver"] = "fault_receiver", ["message"] = "after the fault (ws)", ["client_msg_id"] = "fault-ws",
        });
        var ack = await senderSocket.WaitForAsync("ack");
        Assert.That(ack.Str("client_msg_id"), Is.EqualTo("fault-ws"));
        Assert.That(CountMessages(), Is.EqualTo(3));
    }
}
