using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Chat.Server.Observability;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;
using Chat.Tests.Realtime;
using Chat.Tests.Resilience;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Observability;

/// <summary>
/// The structured log events (Chat.Server.Observability.ChatEventIds), caused for real on a Kestrel server with a log
/// provider registered in it: each appears once with its fields, and no token, password or message text appears in any
/// entry. And the framework's JSON console formatter (<c>Logging:Console:FormatterName=json</c>) writes them as one JSON
/// object per line from the real process.
/// </summary>
[TestFixture]
public sealed class LogEventTests
{
    private const string Password = "password123";
    private const string WrongPassword = "wrong-Pa55word-q7";
    private const string TypedPassword = "hunter2-typed-as-name";
    private const string MessageText = "private message text 5e1c";

    [Test]
    public async Task EachEventIsLoggedOnceWithItsFieldsAndNoSecretIsLogged()
    {
        var capture = new LogCapture();
        await using var app = await ChatApp.StartAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Chat.Server"] = "Information",
            ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "1",
            ["Chat:RateLimit:MessagesPerSecond"] = "1",
            ["Chat:RateLimit:Burst"] = "1",
            ["Chat:MaxSocketsPerUser"] = "1",
            // Any frame queued for a socket makes it too slow (the preamble is written before the queue).
            ["Chat:SendQueueBytes"] = "2",
            ["Chat:SlowConsumerTimeout"] = "00:00:00",
        }, services: s => s.AddSingleton<ILoggerProvider>(capture));
        var alice = await app.RegisterAsync("log_alice");
        var bob = await app.RegisterAsync("log_bob");
        var bobLogin = await app.LoginAsync("log_bob", Password);

        using (var client = app.CreateClient())
        {
            await (await client.LoginAsync("log_alice", WrongPassword)).AssertProblemAsync(401, "invalid_credentials");
            await (await client.LoginAsync("log_alice", WrongPassword)).AssertProblemAsync(429, "rate_limited");
            await (await client.LoginAsync(TypedPassword, WrongPassword)).AssertProblemAsync(401, "invalid_credentials");
        }

        // Alice's socket opens; her second is over the cap; a message to her makes the first one too slow.
        var aliceSocket = await alice.ConnectReadyAsync();
        await using (var second = await alice.ConnectAsync())
            Assert.That(await second.WaitClosedAsync(), Is.EqualTo((WebSocketCloseStatus)1013));
        await bob.SendAsync("log_alice", MessageText);
        Assert.That(await aliceSocket.WaitClosedAsync(), Is.EqualTo(WebSocketCloseStatus.PolicyViolation));

        // Bob sends until the rate limit refuses one (a burst of one at one a second).
        using (var client = bob.Client())
        {
            for (var i = 0; ; i++)
            {
                Assert.That(i, Is.LessThan(10), "the rate limit refuses a send");
                var response = await client.SendMessageAsync(new JsonObject { ["receiver"] = "log_alice", ["message"] = MessageText });
                if ((int)response.StatusCode == 429) break;
            }
        }

        // Bob's socket stays open until shutdown.
        var bobSocket = await bob.ConnectReadyAsync();
        await Deadline.WaitUntilAsync(() => capture.Event("SocketClosed").Count == 1, TimeSpan.FromSeconds(10), "alice's socket close to be logged");
        await app.StopAsync();
        await bobSocket.DisposeAsync();
        await aliceSocket.DisposeAsync();

        var entries = capture.Entries;
        IReadOnlyList<LogEntry> Of(string name, int id) =>
            entries.Where(e => e.EventId.Name == name).Select(e => { Assert.That(e.EventId.Id, Is.EqualTo(id), $"{name} has its stable id"); return e; }).ToList();
        LogEntry Once(string name, int id, Func<LogEntry, bool>? match = null)
        {
            var found = Of(name, id).Where(match ?? (_ => true)).ToList();
            Assert.That(found, Has.Count.EqualTo(1), $"{name}: expected once, got:\n{string.Join("\n", found)}");
            return found[0];
        }
        static object? F(LogEntry e, string field) => e.Fields.TryGetValue(field, out var v) ? v : $"(no field {field})";

        Assert.Multiple(() =>
        {
            var started = Once("ServerStarted", ChatEventIds.ServerStarted);
            Assert.That(F(started, "Addresses")?.ToString(), Does.Contain(app.BaseAddress.Authority), "the listen address");
            Assert.That(F(started, "Store"), Is.EqualTo("Sqlite"));
            Assert.That(F(started, "Cluster"), Is.EqualTo(false));
            Assert.That(F(started, "Metrics"), Is.EqualTo("/metrics on every address"));

            var succeeded = Once("LoginSucceeded", ChatEventIds.LoginSucceeded);
            Assert.That(F(succeeded, "Username"), Is.EqualTo("log_bob"));
            Assert.That(F(succeeded, "ClientAddress"), Is.EqualTo("127.0.0.1"));
            var failed = Once("LoginFailed", ChatEventIds.LoginFailed, e => Equals(F(e, "Username"), "log_alice"));
            Assert.That(F(failed, "ClientAddress"), Is.EqualTo("127.0.0.1"));
            Once("LoginFailed", ChatEventIds.LoginFailed, e => Equals(F(e, "Username"), "(no such user)"));
            Assert.That(Of("LoginFailed", ChatEventIds.LoginFailed), Has.Count.EqualTo(2));
            var throttled = Once("LoginThrottled", ChatEventIds.LoginThrottled);
            Assert.That(F(throttled, "ClientAddress"), Is.EqualTo("127.0.0.1"));

            Once("SocketOpened", ChatEventIds.SocketOpened, e => Equals(F(e, "Username"), "log_alice"));
            Once("SocketOpened", ChatEventIds.SocketOpened, e => Equals(F(e, "Username"), "log_bob"));
            var refused = Once("SocketRefused", ChatEventIds.SocketRefused);
            Assert.That(F(refused, "Username"), Is.EqualTo("log_alice"));
            var slow = Once("SlowConsumerClosed", ChatEventIds.SlowConsumerClosed);
            Assert.That(F(slow, "Username"), Is.EqualTo("log_alice"));
            Assert.That(F(slow, "Frames"), Is.TypeOf<int>().And.GreaterThanOrEqualTo(1), "what was queued");
            var aliceClosed = Once("SocketClosed", ChatEventIds.SocketClosed, e => Equals(F(e, "Username"), "log_alice"));
            Assert.That(F(aliceClosed, "CloseCode"), Is.EqualTo(1008));
            Assert.That(F(aliceClosed, "Reason"), Is.EqualTo("slow"));
            var bobClosed = Once("SocketClosed", ChatEventIds.SocketClosed, e => Equals(F(e, "Username"), "log_bob"));
            Assert.That(F(bobClosed, "CloseCode"), Is.EqualTo(1001));
            Assert.That(F(bobClosed, "Reason"), Is.EqualTo("shutdown"));

            var limited = Once("SendRateLimited", ChatEventIds.SendRateLimited);
            Assert.That(F(limited, "UserId"), Is.TypeOf<long>().And.GreaterThan(0));

            var stopping = Once("ServerStopping", ChatEventIds.ServerStopping);
            Assert.That(F(stopping, "OpenSockets"), Is.EqualTo(1), "bob's socket");
            Once("ServerStopped", ChatEventIds.ServerStopped);

            string[] secrets = [alice.Token, bob.Token, bobLogin, Password, WrongPassword, TypedPassword, MessageText];
            foreach (var entry in entries)
            foreach (var secret in secrets)
                Assert.That(entry.AllText, Does.Not.Contain(secret), $"a secret or message text in a log entry: {entry}");
        });
    }

    [Test]
    public async Task TheJsonConsoleFormatterWritesEachEventAsOneJsonObjectPerLine()
    {
        var database = ChatApp.NewDatabasePath();
        Directory.CreateDirectory(Path.GetDirectoryName(database)!);
        try
        {
            await using var server = await ServerProcess.StartAsync(database, "--Logging:Console:FormatterName=json");
            var token = await server.RegisterAsync("json_alice");
            await server.LoginAsync("json_alice");
            await using (var socket = await server.ConnectAsync(token))
                await socket.ExpectAsync("connected");
            await server.TerminateAsync();
            Assert.That(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), Is.True, "the server stops on SIGTERM");
            await Task.Delay(200);

            var lines = server.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var events = new List<JsonObject>();
            foreach (var line in lines)
            {
                JsonObject parsed;
                try { parsed = JsonNode.Parse(line)!.AsObject(); }
                catch (JsonException e) { Assert.Fail($"not one JSON object per line: {line} ({e.Message})"); return; }
                events.Add(parsed);
            }
            JsonObject State(int id) => events.Single(e => e["EventId"]!.GetValue<int>() == id)["State"]!.AsObject();
            Assert.Multiple(() =>
            {
                Assert.That(State(ChatEventIds.ServerStarted)["Store"]!.GetValue<string>(), Is.EqualTo("Sqlite"));
                Assert.That(State(ChatEventIds.LoginSucceeded)["Username"]!.GetValue<string>(), Is.EqualTo("json_alice"));
                Assert.That(State(ChatEventIds.SocketOpened)["Username"]!.GetValue<string>(), Is.EqualTo("json_alice"));
                Assert.That(State(ChatEventIds.SocketClosed)["Reason"]!.GetValue<string>(), Is.EqualTo("client"));
                Assert.That(State(ChatEventIds.ServerStopping)["OpenSockets"]!.GetValue<int>(), Is.Zero);
                Assert.That(events.Count(e => e["EventId"]!.GetValue<int>() == ChatEventIds.ServerStopped), Is.EqualTo(1));
            });
        }
        finally
        {
            ChatApp.DeleteDatabase(database);
        }
    }
}
