using System.Net;
using Chat.Tests.Hardening;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Operations;

/// <summary>
/// <c>Chat:AllowedOrigins</c>: pages of the server's own origin always work; pages of a listed origin may call the HTTP
/// API (CORS) and open sockets; every other page is refused (no CORS grant; 403 <c>origin_not_allowed</c> before the
/// upgrade), on the WebSocket fast path and through the pipeline alike. Clients that send no <c>Origin</c> are not pages.
/// </summary>
[TestFixture]
public sealed class CrossOriginTests : ServerPerTest
{
    private const string AppOrigin = "https://app.example.com";
    private const string EvilOrigin = "https://evil.example";

    private static Dictionary<string, string?> Settings(string? allowed, bool fastPath = true) => new()
    {
        ["Chat:AllowedOrigins"] = allowed,
        ["Chat:WebSocketFastPath"] = fastPath ? "true" : "false",
    };

    private static Task<RawHttpAnswer> UpgradeAsync(ChatApp app, string token, string? origin)
    {
        var headers = new List<string>
        {
            "Upgrade: websocket", "Connection: Upgrade", $"Sec-WebSocket-Key: {RawWebSocket.SampleKey}", "Sec-WebSocket-Version: 13",
            $"Authorization: Bearer {token}",
        };
        if (origin is not null) headers.Add($"Origin: {origin}");
        return RawHttpAnswer.SendAsync(app.BaseAddress, "GET", "/ws", [.. headers]);
    }

    private static string SameOrigin(ChatApp app) => $"http://{app.BaseAddress.Authority}";

    [TestCase(true)]
    [TestCase(false)]
    public async Task WithNoSettingOnlyTheServersOwnPagesAndNonBrowsersOpenSockets(bool fastPath)
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings(null, fastPath));
        var user = await app.RegisterAsync("origin_default");

        Assert.That((await UpgradeAsync(app, user.Token, SameOrigin(app))).Status, Is.EqualTo(101), "a page of the server's own origin");
        Assert.That((await UpgradeAsync(app, user.Token, null)).Status, Is.EqualTo(101), "a client that sends no Origin");
        HostileInput.AssertProblem(await UpgradeAsync(app, user.Token, EvilOrigin), 403, "origin_not_allowed", "another origin");
        HostileInput.AssertProblem(await UpgradeAsync(app, user.Token, AppOrigin), 403, "origin_not_allowed", "an origin nobody listed");
        HostileInput.AssertProblem(await UpgradeAsync(app, user.Token, "null"), 403, "origin_not_allowed", "an opaque origin (sandboxed frame, file:)");
    }

    [TestCase(true)]
    [TestCase(false)]
    public async Task AListedOriginOpensSocketsAndOthersStayRefused(bool fastPath)
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings($"{AppOrigin}, http://localhost:5173", fastPath));
        var user = await app.RegisterAsync("origin_listed");

        Assert.That((await UpgradeAsync(app, user.Token, AppOrigin)).Status, Is.EqualTo(101), "the listed origin");
        Assert.That((await UpgradeAsync(app, user.Token, "HTTPS://APP.EXAMPLE.COM:443")).Status, Is.EqualTo(101), "the listed origin, spelled otherwise");
        Assert.That((await UpgradeAsync(app, user.Token, "http://localhost:5173")).Status, Is.EqualTo(101), "the second entry of the comma-separated value");
        Assert.That((await UpgradeAsync(app, user.Token, SameOrigin(app))).Status, Is.EqualTo(101), "same origin still works");
        HostileInput.AssertProblem(await UpgradeAsync(app, user.Token, EvilOrigin), 403, "origin_not_allowed", "an unlisted origin");
        HostileInput.AssertProblem(await UpgradeAsync(app, user.Token, "http://app.example.com"), 403, "origin_not_allowed", "the listed host over another scheme");
    }

    [Test]
    public async Task ARefusedOriginLearnsNothingAboutTheToken()
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings(null));

        // The same answer with a bad token as with a good one: the origin is judged first.
        HostileInput.AssertProblem(await UpgradeAsync(app, "not-a-token", EvilOrigin), 403, "origin_not_allowed", "a bad token from another origin");
    }

    [Test]
    public async Task AListedOriginGetsCorsGrantsOnPreflightAndRequests()
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings(AppOrigin));
        var user = await app.RegisterAsync("cors_listed");
        using var client = app.CreateClient();

        using var preflight = Preflight("/api/messages", AppOrigin);
        var answer = await client.SendAsync(preflight);
        Assert.That((int)answer.StatusCode, Is.EqualTo(204));
        Assert.That(answer.Headers.GetValues("Access-Control-Allow-Origin").Single(), Is.EqualTo(AppOrigin));
        Assert.That(string.Join(",", answer.Headers.GetValues("Access-Control-Allow-Methods")), Does.Contain("POST"));
        Assert.That(string.Join(",", answer.Headers.GetValues("Access-Control-Allow-Headers")).ToLowerInvariant(), Does.Contain("authorization"));

        using var get = new HttpRequestMessage(HttpMethod.Get, "/api/users/me");
        get.Headers.Add("Origin", AppOrigin);
        get.Headers.Authorization = new("Bearer", user.Token);
        var me = await client.SendAsync(get);
        Assert.That(me.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(me.Headers.GetValues("Access-Control-Allow-Origin").Single(), Is.EqualTo(AppOrigin));
        Assert.That(string.Join(",", me.Headers.GetValues("Access-Control-Expose-Headers")), Does.Contain("Retry-After"), "a page must be able to read a 429's Retry-After");
        Assert.That(me.Headers.Contains("Access-Control-Allow-Credentials"), Is.False, "bearer tokens, no cookies: never credentials mode");
    }

    [TestCase(null)]
    [TestCase(AppOrigin)]
    public async Task AnUnlistedOriginGetsNoCorsGrant(string? allowed)
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings(allowed));
        var user = await app.RegisterAsync("cors_unlisted");
        using var client = app.CreateClient();

        var answer = await client.SendAsync(Preflight("/api/messages", EvilOrigin));
        Assert.That(answer.Headers.Contains("Access-Control-Allow-Origin"), Is.False, "the browser must refuse the cross-origin call");

        using var get = new HttpRequestMessage(HttpMethod.Get, "/api/users/me");
        get.Headers.Add("Origin", EvilOrigin);
        get.Headers.Authorization = new("Bearer", user.Token);
        var me = await client.SendAsync(get);
        Assert.That(me.Headers.Contains("Access-Control-Allow-Origin"), Is.False, "no grant on the request itself either");
    }

    [Test]
    public async Task SameOriginRequestsWorkWithNoSetting()
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings(null));
        var user = await app.RegisterAsync("cors_same");
        using var client = app.CreateClient(user.Token);

        using var post = new HttpRequestMessage(HttpMethod.Post, "/api/conversations/1/read");
        post.Headers.Add("Origin", SameOrigin(app));
        var answer = await client.SendAsync(post);
        // The request reached the endpoint (not_found: no such conversation), not a CORS refusal.
        await HostileInput.AssertProblemAsync(answer, 404, "not_found", "a same-origin POST");
    }

    [Test]
    public async Task TheWildcardLetsEveryOriginIn()
    {
        var app = await StartServerAsync(Transport.Kestrel, Settings("*"));
        var user = await app.RegisterAsync("origin_any");

        Assert.That((await UpgradeAsync(app, user.Token, EvilOrigin)).Status, Is.EqualTo(101));
        using var client = app.CreateClient();
        var answer = await client.SendAsync(Preflight("/api/messages", EvilOrigin));
        Assert.That(answer.Headers.GetValues("Access-Control-Allow-Origin").Single(), Is.EqualTo("*"));
    }

    [TestCase("https://chat.example.com", "chat.example.com", true)]
    [TestCase("https://chat.example.com", "chat.example.com:443", true)]
    [TestCase("http://chat.example.com", "chat.example.com:80", true)]
    [TestCase("http://chat.example.com:8080", "CHAT.example.com:8080", true)]
    [TestCase("http://[::1]:5000", "[::1]:5000", true)]
    [TestCase("https://chat.example.com", "chat.example.com:8443", false)]
    [TestCase("http://chat.example.com", "chat.example.com:443", false)]
    [TestCase("https://chat.example.com:8443", "chat.example.com", false)]
    [TestCase("https://chat.example.com.evil.example", "chat.example.com", false)]
    [TestCase("https://evil.example", "chat.example.com", false)]
    public void ThePagesOwnOriginIsItsHostAndPort(string origin, string host, bool allowed)
    {
        var rule = new Chat.Server.Hosting.CrossOrigin(Microsoft.Extensions.Options.Options.Create(new Chat.Server.ChatOptions()));

        Assert.That(rule.IsAllowed(origin, host), Is.EqualTo(allowed));
    }

    private static HttpRequestMessage Preflight(string path, string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }
}
