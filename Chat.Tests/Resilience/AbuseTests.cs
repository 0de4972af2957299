using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Server.Realtime;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Resilience;

/// <summary>The per-user socket cap, token expiry and dead-peer detection (login throttling: <c>Http/LoginThrottleTests</c>).</summary>
[TestFixture]
public sealed class AbuseTests : ServerPerTest
{
    [TestCase(Transport.TestHost)]
    [TestCase(Transport.Kestrel)]
    public async Task ConcurrentUpgradesCannotPassMaxSocketsPerUserTogether(Transport transport)
    {
        const int cap = 2, attempts = 60;
        var app = await StartServerAsync(transport, new() { ["Chat:MaxSocketsPerUser"] = cap.ToString() });
        var alice = await app.RegisterAsync("race_alice");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();

        var sockets = await Task.WhenAll(Enumerable.Range(0, attempts).Select(_ => Task.Run(() => alice.ConnectAsync())));
        try
        {
            // Each socket either gets its connected frame or is refused with 1013.
            var outcomes = await Task.WhenAll(sockets.Select(async socket =>
            {
                var connected = socket.ExpectAsync("connected");
                await Task.WhenAny(connected, socket.Closed);
                return connected.IsCompletedSuccessfully ? "connected" : "refused";
            }));
            Assert.Multiple(() =>
            {
                Assert.That(outcomes.Count(o => o == "connected"), Is.EqualTo(cap), $"exactly the cap of {attempts} concurrent upgrades is served");
                Assert.That(registry.SocketsOf(registry.All().First().UserId), Has.Count.EqualTo(cap));
                Assert.That(sockets.Where(s => s.Closed.IsCompleted).Select(s => s.Closed.Result), Has.All.EqualTo((WebSocketCloseStatus)1013));
            });
        }
        finally
        {
            foreach (var socket in sockets) await socket.DisposeAsync();
        }
    }

    [Test]
    public async Task ASocketBeyondMaxSocketsPerUserIsClosedWith1013AndTheOthersKeepWorking()
    {
        var app = await StartServerAsync(Transport.TestHost, new() { ["Chat:MaxSocketsPerUser"] = "2" });
        var alice = await app.RegisterAsync("cap_alice");
        var bob = await app.RegisterAsync("cap_bob");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();

        await using var first = await alice.ConnectAsync();
        await first.ExpectAsync("connected");
        await using var second = await alice.ConnectAsync();
        await second.ExpectAsync("connected");

        await using var third = await alice.ConnectAsync();
        Assert.That(await third.WaitClosedAsync(), Is.EqualTo((WebSocketCloseStatus)1013), "the socket over the cap is refused with 1013 (try again later)");
        Assert.That(third.History.Select(f => f.Type()), Has.None.EqualTo("connected"), "a refused socket gets no frames");
        Assert.That(registry.Count, Is.EqualTo(2));

        // Both earlier sockets are still served.
        var sent = await bob.SendAsync("cap_alice", "still there?");
        foreach (var socket in new[] { first, second })
        {
            var chat = await socket.WaitForAsync("chat_message");
            Assert.That(chat.Long("message_id"), Is.EqualTo(sent.Long("message_id")));
            Assert.That(await socket.DrainAsync(), Has.None.Matches<JsonObject>(f => f.Type() == "error"));
        }

        // The cap counts open sockets: once one closes, a new one is accepted.
        await first.DisposeAsync();
        await Deadline.WaitUntilAsync(() => registry.Count == 1, TimeSpan.FromSeconds(10), "the closed socket to leave the registry");
        await using var again = await alice.ConnectAsync();
        await again.ExpectAsync("connected");
    }

    [Test]
    public async Task AnExpiredTokenIsRefusedOverHttpAndItsOpenSocketIsClosedWith1008()
    {
        // Expiry is stored in whole seconds, so a 3 s lifetime leaves at least 2 s to open the socket.
        var app = await StartServerAsync(Transport.TestHost, new() { ["Chat:TokenLifetime"] = "00:00:03" });
        var user = await app.RegisterAsync("short_lived");
        await using var socket = await user.ConnectAsync();
        await socket.ExpectAsync("connected");
        using (var client = user.Client())
            Assert.That((await client.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the token works before it expires");

        Assert.That(await socket.WaitClosedAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(WebSocketCloseStatus.PolicyViolation),
            "a socket must not outlive its token");

        using (var client = user.Client())
        {
            var response = await client.GetAsync("/api/users/me");
            Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.Unauthorized));
            Assert.That((await response.Content.ReadFromJsonAsync<JsonObject>())!.Str("code"), Is.EqualTo("unauthorized"));
        }
        // Nor can the expired token open a new socket.
        Assert.That(async () => await user.ConnectAsync(), Throws.Exception, "an expired token must not open a socket");
    }

    [Test]
    public async Task ADeadPeerThatNeverAnswersPingsIsDroppedWhileAReadingPeerStays()
    {
        var app = await StartServerAsync(Transport.Kestrel, new()
        {
            ["Chat:KeepAliveInterval"] = "00:00:01",
            ["Chat:KeepAliveTimeout"] = "00:00:02",
        });
        var dead = await app.RegisterAsync("dead_peer");
        var alive = await app.RegisterAsync("live_peer");
        var registry = app.Services.GetRequiredService<ConnectionRegistry>();

        await using var live = await alive.ConnectAsync();
        await live.ExpectAsync("connected");

        // A raw client that never calls ReceiveAsync never answers a ping; nor does it send keep-alives itself.
        using var raw = new ClientWebSocket();
        raw.Options.KeepAliveInterval = TimeSpan.Zero;
        raw.Options.SetRequestHeader("Authorization", $"Bearer {dead.Token}");
        await raw.ConnectAsync(new UriBuilder(new Uri(app.BaseAddress, "ws")) { Scheme = "ws" }.Uri, CancellationToken.None);
        await Deadline.WaitUntilAsync(() => registry.Count == 2, TimeSpan.FromSeconds(5), "both sockets to be registered");

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Deadline.WaitUntilAsync(() => registry.Count == 1 && registry.All().All(c => c.Username != "dead_peer"),
            TimeSpan.FromSeconds(15), "the server to drop the peer that never answers pings");
        TestContext.Out.WriteLine($"dead peer dropped {clock.Elapsed.TotalSeconds:F1}s after connecting (interval 1 s, timeout 2 s)");

        // The reading socket was pinged just as often and is still served.
        Assert.That(live.Socket.State, Is.EqualTo(WebSocketState.Open));
        Assert.That(await live.DrainAsync(), Is.Empty);
        Assert.That(registry.All().Select(c => c.Username), Is.EqualTo(new[] { "live_peer" }));
    }
}
