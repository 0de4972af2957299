using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;
using Chat.Tests.Realtime;

namespace Chat.Tests.Observability;

/// <summary>
/// Known traffic against a real server, phase by phase, asserting after each phase that <c>/metrics</c> moved by exactly
/// what the phase caused: logins of each outcome, rate-limited sends, sockets opening, sends over WebSocket and HTTP
/// (with a <c>client_msg_id</c> repeat), a <c>sync</c>, and sockets closing for four reasons. Run on a server started
/// with <see cref="Settings"/>. Counters that move after the client saw its answer (a frame is counted once the socket
/// took it) are waited for, then compared exactly: a counter that overshoots never matches.
/// </summary>
internal static class ChatTraffic
{
    /// <summary>Small limits so each refusal is caused on purpose: a login pair blocks after 2 failures, 3 sends at once, 1 socket per user, 1 KiB frames.</summary>
    public static Dictionary<string, string?> Settings => new()
    {
        ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "2",
        ["Chat:RateLimit:MessagesPerSecond"] = "1",
        ["Chat:RateLimit:Burst"] = "3",
        ["Chat:MaxSocketsPerUser"] = "1",
        ["Chat:MaxFrameBytes"] = "1024",
    };

    private const string Password = "password123";

    /// <summary>Runs every phase; returns the last scrape (after all sockets closed).</summary>
    public static async Task<MetricsScrape> RunAsync(ChatApp app)
    {
        var alice = await app.RegisterAsync("m_alice");
        var bob = await app.RegisterAsync("m_bob");
        var carol = await app.RegisterAsync("m_carol");
        var before = await MetricsScrape.TakeAsync(app);
        double Delta(MetricsScrape now, string name, params (string, string)[] labels) => now.Value(name, labels) - before.Value(name, labels);

        // Logins: one success; two failures for one pair, which then is throttled.
        using (var client = app.CreateClient())
        {
            await (await client.LoginAsync("m_bob", Password)).JsonAsync(200);
            await (await client.LoginAsync("m_alice", "wrong-password")).AssertProblemAsync(401, "invalid_credentials");
            await (await client.LoginAsync("m_alice", "wrong-password")).AssertProblemAsync(401, "invalid_credentials");
            await (await client.LoginAsync("m_alice", Password)).AssertProblemAsync(429, "rate_limited");
        }

        // Rate limit: carol sends six at once with a burst of three; each 429 the client sees is one refusal counted.
        int carolStored = 0, carolRefused = 0;
        using (var client = carol.Client())
        {
            for (var i = 0; i < 6; i++)
            {
                var response = await client.SendMessageAsync(new JsonObject { ["receiver"] = "m_bob", ["message"] = $"burst {i}" });
                if ((int)response.StatusCode == 201) carolStored++;
                else { await response.AssertProblemAsync(429, "rate_limited"); carolRefused++; }
            }
        }
        Assert.That(carolRefused, Is.GreaterThan(0), "six sends at once with a burst of three: some are refused");

        // Sockets: alice and bob connect; alice sends over WebSocket, then over HTTP, then repeats her first client_msg_id.
        var aliceSocket = await alice.ConnectReadyAsync();
        var bobSocket = await bob.ConnectReadyAsync();
        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("m_bob", "first", "c1"));
        await aliceSocket.WaitForAsync("ack");
        await bobSocket.WaitForAsync("conversation_refresh");
        await alice.SendAsync("m_bob", "second");
        await bobSocket.WaitForAsync("chat_message", match: f => f.Str("message") == "second");
        await aliceSocket.WaitForAsync("message_sent", match: f => f.Str("message") == "second");
        await aliceSocket.SendAsync(RealtimeTestHelpers.SendMessageFrame("m_bob", "first", "c1"));
        await aliceSocket.WaitForAsync("ack");

        var frameTypes = new Dictionary<string, double>
        {
            ["connected"] = 2, ["chat_message"] = 2, ["conversation_refresh"] = 1, ["message_sent"] = 2, ["ack"] = 2,
        };
        var live = await WaitForAsync(app, s => frameTypes.All(t => Delta(s, "chat_frames_delivered_total", ("type", t.Key)) == t.Value),
            "the live frames to be counted");
        Assert.Multiple(() =>
        {
            Assert.That(Delta(live, "chat_logins_total", ("outcome", "success")), Is.EqualTo(1), "logins: success");
            Assert.That(Delta(live, "chat_logins_total", ("outcome", "failure")), Is.EqualTo(2), "logins: failure");
            Assert.That(Delta(live, "chat_logins_total", ("outcome", "throttled")), Is.EqualTo(1), "logins: throttled");
            Assert.That(Delta(live, "chat_sends_rate_limited_total"), Is.EqualTo(carolRefused), "rate-limited sends");
            Assert.That(Delta(live, "chat_messages_stored_total"), Is.EqualTo(carolStored + 2), "messages stored (the client_msg_id repeat stores nothing)");
            foreach (var (type, count) in frameTypes)
                Assert.That(Delta(live, "chat_frames_delivered_total", ("type", type)), Is.EqualTo(count), $"frames delivered: {type}");
            Assert.That(Delta(live, "chat_frames_delivered_total", ("type", "sync_complete")), Is.Zero, "no sync yet");
            Assert.That(Delta(live, "chat_sockets_opened_total"), Is.EqualTo(2), "sockets opened");
            Assert.That(live.Value("chat_sockets_open"), Is.EqualTo(2), "sockets open");
            Assert.That(live.Value("chat_users_online"), Is.EqualTo(2), "users online");
            Assert.That(Delta(live, "chat_commit_batch_size_sum"), Is.EqualTo(carolStored + 3), "writes committed: every stored send and the repeat");
            Assert.That(Delta(live, "chat_commit_duration_seconds_count"), Is.EqualTo(Delta(live, "chat_commit_batch_size_count")).And.GreaterThan(0),
                "one commit duration per committed batch");
        });

        // Sync: bob replays everything he received (carol's and alice's messages; two of them opened a conversation).
        await bobSocket.SendAsync(new JsonObject { ["type"] = "sync", ["after_message_id"] = 0 });
        var complete = await bobSocket.WaitForAsync("sync_complete");
        Assert.That(complete["has_more"]!.GetValue<bool>(), Is.False);
        var replayed = carolStored + 2;
        var synced = await WaitForAsync(app, s => Delta(s, "chat_frames_delivered_total", ("type", "sync_complete")) == 1
            && Delta(s, "chat_frames_delivered_total", ("type", "chat_message")) == 2 + replayed, "the replayed frames to be counted");
        Assert.Multiple(() =>
        {
            Assert.That(Delta(synced, "chat_sync_requests_total"), Is.EqualTo(1), "sync requests");
            Assert.That(Delta(synced, "chat_sync_replayed_messages_total"), Is.EqualTo(replayed), "replayed messages");
            Assert.That(Delta(synced, "chat_frames_delivered_total", ("type", "conversation_refresh")), Is.EqualTo(1 + 2), "replayed conversation_refresh frames");
        });

        // Closes: bob's second device is over the cap (limit); carol sends a frame past the limit (too_big); alice logs
        // out (logout); bob closes his socket (client).
        await using (var extra = await bob.ConnectAsync())
            Assert.That(await extra.WaitClosedAsync(), Is.EqualTo((WebSocketCloseStatus)1013), "over the per-user cap");
        await using (var carolSocket = await carol.ConnectReadyAsync())
        {
            await carolSocket.SendTextAsync(new string('x', 2000));
            Assert.That(await carolSocket.WaitClosedAsync(), Is.EqualTo(WebSocketCloseStatus.MessageTooBig));
        }
        using (var client = alice.Client())
            Assert.That((int)(await client.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(204));
        Assert.That(await aliceSocket.WaitClosedAsync(), Is.EqualTo(WebSocketCloseStatus.PolicyViolation));
        await bobSocket.Socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        await bobSocket.WaitClosedAsync();

        var reasons = new Dictionary<string, double> { ["limit"] = 1, ["too_big"] = 1, ["logout"] = 1, ["client"] = 1 };
        var closed = await WaitForAsync(app, s => s.Value("chat_sockets_open") == 0 && reasons.All(r => Delta(s, "chat_sockets_closed_total", ("reason", r.Key)) == r.Value),
            "the closes to be counted");
        Assert.Multiple(() =>
        {
            foreach (var (reason, count) in reasons)
                Assert.That(Delta(closed, "chat_sockets_closed_total", ("reason", reason)), Is.EqualTo(count), $"sockets closed: {reason}");
            Assert.That(Delta(closed, "chat_sockets_closed_total"), Is.EqualTo(4), "no other close was counted");
            Assert.That(Delta(closed, "chat_sockets_opened_total"), Is.EqualTo(3), "alice, bob and carol opened one socket each (the one over the cap was never opened)");
            Assert.That(closed.Value("chat_sockets_open"), Is.Zero, "sockets open");
            Assert.That(closed.Value("chat_users_online"), Is.Zero, "users online");
            Assert.That(closed.Value("chat_send_queue_bytes"), Is.Zero, "nothing queued once every socket closed");
        });
        await aliceSocket.DisposeAsync();
        await bobSocket.DisposeAsync();
        return closed;
    }

    /// <summary>Scrapes until <paramref name="condition"/> holds (at most 10 s); returns the last scrape either way, for the exact assertions that follow.</summary>
    public static async Task<MetricsScrape> WaitForAsync(ChatApp app, Func<MetricsScrape, bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (true)
        {
            var scrape = await MetricsScrape.TakeAsync(app);
            if (condition(scrape) || DateTime.UtcNow > deadline)
            {
                if (!condition(scrape)) TestContext.Out.WriteLine($"Timed out waiting for {what}; the assertions below show what was counted.");
                return scrape;
            }
            await Task.Delay(50);
        }
    }
}
