using System.Net;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Hardening;
using Chat.Tests.Infrastructure;
using Chat.Tests.Resilience;

namespace Chat.Tests.Operations;

/// <summary>
/// <c>/healthz/live</c> answers while the process does; <c>/healthz/ready</c> also needs a writable database (see
/// <see cref="StorageFaultTests"/> for the locked database) and turns 503 the moment a stop begins, while the server keeps
/// serving for <c>Chat:DrainDelay</c> before it closes its sockets with 1001.
/// </summary>
[TestFixture]
public sealed class HealthTests : ServerPerTest
{
    [TestCase(Transport.TestHost)]
    [TestCase(Transport.Kestrel)]
    public async Task AServingNodeIsLiveAndReady(Transport transport)
    {
        var app = await StartServerAsync(transport);
        using var client = app.CreateClient();

        foreach (var path in new[] { "/healthz", "/healthz/live", "/healthz/ready" })
        {
            var answer = await client.GetAsync(path);
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.OK), path);
            Assert.That(answer.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), path);
            var body = JsonNode.Parse(await answer.Content.ReadAsStringAsync())!.AsObject();
            Assert.That(body.Select(p => p.Key), Is.EquivalentTo(new[] { "status" }), path);
            Assert.That(body["status"]!.GetValue<string>(), Is.EqualTo("healthy"), path);
        }
    }

    [Test]
    public async Task AStoppingNodeTurnsUnreadyAtOnceAndKeepsServingForTheDrainDelay()
    {
        var app = await StartServerAsync(Transport.Kestrel, new() { ["Chat:DrainDelay"] = "00:00:03" });
        var alice = await app.RegisterAsync("drain_alice");
        var bob = await app.RegisterAsync("drain_bob");
        await using var socket = await alice.ConnectAsync();
        await socket.ExpectAsync("connected");
        using var client = app.CreateClient();

        var stopping = app.App.StopAsync();
        var started = DateTime.UtcNow;

        var ready = await client.GetAsync("/healthz/ready");
        await HostileInput.AssertProblemAsync(ready, 503, "internal", "/healthz/ready while draining");
        Assert.That((await client.GetAsync("/healthz/live")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "a draining process is alive");
        Assert.That((await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "/healthz keeps its contract meaning (the database)");

        // Still serving: a send over the open socket is stored and acknowledged, and HTTP still answers.
        await socket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "drain_bob", ["message"] = "during the drain", ["client_msg_id"] = "d1" });
        Assert.That((await socket.WaitForAsync("ack")).Str("client_msg_id"), Is.EqualTo("d1"));
        Assert.That((await bob.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Has.Count.EqualTo(1));
        Assert.That(stopping.IsCompleted, Is.False, "the stop waits for the drain delay");

        Assert.That(await socket.WaitClosedAsync(TimeSpan.FromSeconds(15)), Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable), "then sockets close with 1001");
        Assert.That(DateTime.UtcNow - started, Is.GreaterThanOrEqualTo(TimeSpan.FromSeconds(2.5)), "not before the drain delay");
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Test]
    public async Task WithoutADrainDelayAStopClosesSocketsAtOnce()
    {
        var app = await StartServerAsync(Transport.Kestrel);
        var alice = await app.RegisterAsync("nodrain_alice");
        await using var socket = await alice.ConnectAsync();
        await socket.ExpectAsync("connected");

        var started = DateTime.UtcNow;
        var stopping = app.App.StopAsync();
        Assert.That(await socket.WaitClosedAsync(TimeSpan.FromSeconds(15)), Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable));
        Assert.That(DateTime.UtcNow - started, Is.LessThan(TimeSpan.FromSeconds(2.5)), "the default drain delay is 0");
        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
    }
}
