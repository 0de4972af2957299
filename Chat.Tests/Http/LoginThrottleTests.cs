using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>
/// The login throttle (protocol.md "Register and log in"): a (username, address) pair over its failure budget is
/// blocked; a username or an address over its budget is only slowed; so no client can lock anyone else out. Over
/// real Kestrel with 127.0.0.1 as a trusted proxy, so <c>X-Forwarded-For</c> stands in for distinct clients.
/// </summary>
[BothStores]
[TestFixture]
public sealed class LoginThrottleTests
{
    private const string Password = "password123";
    private static readonly TimeSpan Slowdown = TimeSpan.FromMilliseconds(300);
    private ChatApp? _app;

    [TearDown]
    public async Task TearDown()
    {
        if (_app is not null) await _app.DisposeAsync();
        _app = null;
    }

    private async Task<ChatApp> StartAsync(bool trustLoopbackProxy = true)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "3",
            ["Chat:LoginThrottle:FailuresPerUsername"] = "6",
            ["Chat:LoginThrottle:FailuresPerAddress"] = "5",
            ["Chat:LoginThrottle:Window"] = "00:05:00",
            ["Chat:LoginThrottle:SlowdownDelay"] = Slowdown.ToString(),
        };
        if (trustLoopbackProxy) settings["Chat:ForwardedHeaders:KnownProxies:0"] = "127.0.0.1";
        _app = await ChatApp.StartAsync(Transport.Kestrel, settings);
        await _app.RegisterAsync("victim");
        await _app.RegisterAsync("bystander");
        return _app;
    }

    /// <summary>POST /api/auth/login, as the client at <paramref name="from"/> (sent as X-Forwarded-For) when given.</summary>
    internal static async Task<HttpResponseMessage> LoginAsync(ChatApp app, string username, string password, string? from = null)
    {
        using var client = app.CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/auth/login")
        {
            Content = JsonContent.Create(new JsonObject { ["username"] = username, ["password"] = password }),
        };
        if (from is not null) request.Headers.Add("X-Forwarded-For", from);
        return await client.SendAsync(request);
    }

    internal static async Task AssertBlockedAsync(HttpResponseMessage response, string what)
    {
        await response.AssertProblemAsync(429, "rate_limited");
        Assert.That(response.Headers.RetryAfter?.Delta, Is.Not.Null.And.GreaterThan(TimeSpan.Zero), $"{what}: 429 needs a Retry-After in seconds");
    }

    [Test]
    public async Task ManyFailuresForOtherUsernamesFromOneAddressNeverFailAnotherUsersCorrectLogin()
    {
        // Everyone shares one address, as all clients behind a reverse proxy without forwarded headers do.
        var app = await StartAsync(trustLoopbackProxy: false);
        for (var i = 0; i < 12; i++)
            await (await LoginAsync(app, $"sprayed_{i}", "wrong-password")).AssertProblemAsync(401, "invalid_credentials");

        var watch = Stopwatch.StartNew();
        await (await LoginAsync(app, "victim", Password)).JsonAsync(200);
        Assert.That(watch.Elapsed, Is.GreaterThanOrEqualTo(Slowdown * 0.9), "an address over its budget is slowed");
        await (await LoginAsync(app, "bystander", Password)).JsonAsync(200);
    }

    [Test]
    public async Task FailuresOnOneAccountFromOneAddressBlockThatPairButNotTheAccountElsewhere()
    {
        var app = await StartAsync();
        for (var i = 0; i < 3; i++)
            await (await LoginAsync(app, "victim", $"wrong-{i}", from: "198.51.100.1")).AssertProblemAsync(401, "invalid_credentials");

        var blocked = await LoginAsync(app, "victim", Password, from: "198.51.100.1");
        await AssertBlockedAsync(blocked, "the right password from the guessing address");
        Assert.That(blocked.Headers.RetryAfter!.Delta!.Value.TotalSeconds, Is.EqualTo(300), "Retry-After is the configured window");
        await AssertBlockedAsync(await LoginAsync(app, "VICTIM", Password, from: "198.51.100.1"), "the same user spelled in another case");

        await (await LoginAsync(app, "victim", Password, from: "198.51.100.2")).JsonAsync(200);
        await (await LoginAsync(app, "bystander", Password, from: "198.51.100.1")).JsonAsync(200);
    }

    [Test]
    public async Task AnAccountGuessedFromManyAddressesIsSlowedButItsCorrectPasswordStillLogsIn()
    {
        var app = await StartAsync();
        // 2 failures from each of 8 addresses: 16 on the account, no pair blocked.
        for (var a = 1; a <= 8; a++)
        for (var i = 0; i < 2; i++)
            await (await LoginAsync(app, "victim", $"wrong-{a}-{i}", from: $"203.0.113.{a}")).AssertProblemAsync(401, "invalid_credentials");

        var watch = Stopwatch.StartNew();
        await (await LoginAsync(app, "victim", Password, from: "203.0.113.99")).JsonAsync(200);
        Assert.That(watch.Elapsed, Is.GreaterThanOrEqualTo(Slowdown * 0.9), "a username over its budget is slowed");
        await (await LoginAsync(app, "victim", Password, from: "203.0.113.1")).JsonAsync(200);
    }

    [Test]
    public async Task AConcurrentBurstFromOnePairGetsNoMoreGuessesThanItsBudget()
    {
        var app = await StartAsync();
        var answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => LoginAsync(app, "victim", $"burst-{i}", from: "198.51.100.9")));
        var statuses = answers.Select(r => (int)r.StatusCode).ToList();

        Assert.That(statuses.Count(s => s == 401), Is.EqualTo(3), $"guesses checked: {string.Join(",", statuses)}");
        Assert.That(statuses.Count(s => s == 429), Is.EqualTo(13));
        await AssertBlockedAsync(await LoginAsync(app, "victim", Password, from: "198.51.100.9"), "after the burst");
        await (await LoginAsync(app, "victim", Password, from: "198.51.100.10")).JsonAsync(200);
    }

    [Test]
    public async Task IPv6ClientsAreCountedPerSlash64()
    {
        var app = await StartAsync();
        for (var i = 1; i <= 3; i++)
            await (await LoginAsync(app, "victim", "wrong", from: $"2001:db8:0:1::{i}")).AssertProblemAsync(401, "invalid_credentials");

        // Another address of the same /64 is the same client; another /64 is not.
        await AssertBlockedAsync(await LoginAsync(app, "victim", Password, from: "2001:db8:0:1::abcd"), "same /64");
        await (await LoginAsync(app, "victim", Password, from: "2001:db8:0:2::1")).JsonAsync(200);
    }
}
