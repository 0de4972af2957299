using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>
/// <c>X-Forwarded-For</c> names the client only when it comes from a configured trusted proxy
/// (<c>Chat:ForwardedHeaders:KnownProxies</c> / <c>KnownNetworks</c>); from anyone else, and by default, it is
/// ignored. Observed through the login throttle, which counts failures per (username, client address).
/// </summary>
[TestFixture]
public sealed class ForwardedHeadersTests : ServerPerTest
{
    private async Task<ChatApp> StartAsync(params (string Key, string Value)[] proxySettings)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "2",
            ["Chat:LoginThrottle:SlowdownDelay"] = "00:00:00",
        };
        foreach (var (key, value) in proxySettings) settings[key] = value;
        var app = await StartServerAsync(Transport.Kestrel, settings);
        await app.RegisterAsync("victim");
        return app;
    }

    /// <summary>Two failures as the client <paramref name="guesser"/>; returns the answer to the right password as <paramref name="user"/>.</summary>
    private static async Task<HttpResponseMessage> GuessThenLoginAsync(ChatApp app, string guesser, string user)
    {
        for (var i = 0; i < 2; i++)
            await (await LoginThrottleTests.LoginAsync(app, "victim", $"wrong-{i}", from: guesser)).AssertProblemAsync(401, "invalid_credentials");
        return await LoginThrottleTests.LoginAsync(app, "victim", "password123", from: user);
    }

    [Test]
    public async Task ATrustedProxysForwardedForSeparatesClients()
    {
        var app = await StartAsync(("Chat:ForwardedHeaders:KnownProxies:0", "127.0.0.1"));
        await (await GuessThenLoginAsync(app, guesser: "198.51.100.1", user: "198.51.100.2")).JsonAsync(200);
        await LoginThrottleTests.AssertBlockedAsync(await LoginThrottleTests.LoginAsync(app, "victim", "password123", from: "198.51.100.1"), "the guesser");
    }

    [Test]
    public async Task ATrustedNetworksForwardedForSeparatesClients()
    {
        var app = await StartAsync(("Chat:ForwardedHeaders:KnownNetworks:0", "127.0.0.0/8"));
        await (await GuessThenLoginAsync(app, guesser: "198.51.100.1", user: "198.51.100.2")).JsonAsync(200);
        await LoginThrottleTests.AssertBlockedAsync(await LoginThrottleTests.LoginAsync(app, "victim", "password123", from: "198.51.100.1"), "the guesser");
    }

    [Test]
    public async Task AProxyListGivenAsOneCommaSeparatedValueIsTrusted()
    {
        var app = await StartAsync(("Chat:ForwardedHeaders:KnownProxies", "192.0.2.10, 127.0.0.1"));
        await (await GuessThenLoginAsync(app, guesser: "198.51.100.1", user: "198.51.100.2")).JsonAsync(200);
        await LoginThrottleTests.AssertBlockedAsync(await LoginThrottleTests.LoginAsync(app, "victim", "password123", from: "198.51.100.1"), "the guesser");
    }

    [Test]
    public async Task AnUntrustedSendersForwardedForIsIgnored()
    {
        // A proxy is configured, but the request does not come from it.
        var app = await StartAsync(("Chat:ForwardedHeaders:KnownProxies:0", "192.0.2.10"));
        var answer = await GuessThenLoginAsync(app, guesser: "198.51.100.1", user: "198.51.100.2");
        await LoginThrottleTests.AssertBlockedAsync(answer, "both requests came from 127.0.0.1");
    }

    [Test]
    public async Task ByDefaultNoSendersForwardedForIsTrusted()
    {
        // Not even loopback, which the framework's own defaults would trust.
        var app = await StartAsync();
        var answer = await GuessThenLoginAsync(app, guesser: "198.51.100.1", user: "198.51.100.2");
        await LoginThrottleTests.AssertBlockedAsync(answer, "both requests came from 127.0.0.1");
    }
}
