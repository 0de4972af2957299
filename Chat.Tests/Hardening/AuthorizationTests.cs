using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Hardening;

/// <summary>
/// Nobody unauthenticated gets anything, and an outsider learns nothing about a conversation that is not theirs: not its
/// messages, not even that it exists (the answer is the same as for an id that does not exist).
/// </summary>
[BothStores]
[TestFixture]
public sealed class AuthorizationTests
{
    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;
    private TestUser _mallory = null!;
    private string _secret = null!;
    private long _conversationId;
    private long _secretMessageId;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.Kestrel);
        _alice = await _app.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        _bob = await _app.RegisterAsync("bob", "Bob Builder", "bob@example.com");
        _mallory = await _app.RegisterAsync("mallory", "Mallory Outsider", "mallory@example.com");
        _secret = $"TOP-SECRET-{Guid.NewGuid():N}";
        var sent = await _alice.SendAsync("bob", _secret);
        _conversationId = sent.Long("conversation_id");
        _secretMessageId = sent.Long("message_id");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private static readonly byte[] Png = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3];

    /// <summary>Every authenticated endpoint, each with a body that would succeed for alice.</summary>
    private (string Name, Func<HttpRequestMessage> Request)[] Endpoints() =>
    [
        ("GET me", () => new(HttpMethod.Get, "/api/users/me")),
        ("PATCH me", () => new(HttpMethod.Patch, "/api/users/me") { Content = JsonContent.Create(new JsonObject { ["full_name"] = "Hacked" }) }),
        ("PUT avatar", () => new(HttpMethod.Put, "/api/users/me/avatar") { Content = new ByteArrayContent(Png) { Headers = { ContentType = new("image/png") } } }),
        ("DELETE avatar", () => new(HttpMethod.Delete, "/api/users/me/avatar")),
        ("search", () => new(HttpMethod.Get, "/api/users/search?q=bob")),
        ("send", () => new(HttpMethod.Post, "/api/messages") { Content = JsonContent.Create(new JsonObject { ["receiver"] = "bob", ["message"] = "forged" }) }),
        ("conversations", () => new(HttpMethod.Get, "/api/conversations")),
        ("history", () => new(HttpMethod.Get, $"/api/conversations/{_conversationId}/messages")),
        ("read", () => new(HttpMethod.Post, $"/api/conversations/{_conversationId}/read") { Content = JsonContent.Create(new JsonObject()) }),
        ("logout", () => new(HttpMethod.Post, "/api/auth/logout")),
    ];

    [Test]
    public async Task EveryEndpointAndTheSocketRefuseMissingGarbageAndRevokedTokensWith401()
    {
        // A token of alice's that has been revoked by logout; a socket opened with it is closed with 1008.
        string revoked;
        using (var anonymous = _app.CreateClient())
        {
            var login = await anonymous.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = "alice", ["password"] = "password123" });
            revoked = (await login.Content.ReadFromJsonAsync<JsonObject>())!.Str("token");
        }
        await using (var doomed = await _app.ConnectAsync(revoked))
        {
            await doomed.ExpectAsync("connected");
            using var client = _app.CreateClient(revoked);
            Assert.That((int)(await client.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(204));
            Assert.That((int?)await doomed.WaitClosedAsync(), Is.EqualTo(1008));
        }

        var credentials = new (string Name, string? Authorization, string Query)[]
        {
            ("no token", null, ""),
            ("garbage token", "Bearer garbage", ""),
            ("well-formed unknown token", "Bearer " + Convert.ToBase64String(new byte[32]), ""),
            ("empty bearer", "Bearer ", ""),
            ("basic auth", "Basic YWxpY2U6cGFzc3dvcmQxMjM=", ""),
            ("revoked token", "Bearer " + revoked, ""),
            ("valid token in the query (only /ws may use it)", null, "token=" + Uri.EscapeDataString(_alice.Token)),
        };
        var cases = 0;
        foreach (var (name, authorization, query) in credentials)
        {
            foreach (var (endpoint, make) in Endpoints())
            {
                using var client = _app.CreateClient();
                var request = make();
                if (query.Length > 0) request.RequestUri = new Uri(request.RequestUri!.OriginalString + (request.RequestUri.OriginalString.Contains('?') ? "&" : "?") + query, UriKind.Relative);
                if (authorization is not null) request.Headers.TryAddWithoutValidation("Authorization", authorization);
                var response = await client.SendAsync(request);
                var body = await HostileInput.AssertProblemAsync(response, 401, "unauthorized", $"{endpoint} with {name}");
                Assert.That(body.ToJsonString(), Does.Not.Contain(_secret));
                cases++;
            }
        }

        // The socket: 401 before the upgrade (never 101), by header or by ?token=.
        var sockets = new (string Name, string Target, string[] Headers)[]
        {
            ("no token", "/ws", []),
            ("garbage header", "/ws", ["Authorization: Bearer garbage"]),
            ("revoked header", "/ws", ["Authorization: Bearer " + revoked]),
            ("garbage query", "/ws?token=garbage", []),
            ("revoked query", "/ws?token=" + Uri.EscapeDataString(revoked), []),
            ("empty query", "/ws?token=", []),
        };
        foreach (var (name, target, headers) in sockets)
        {
            string[] upgrade = ["Connection: Upgrade, close", "Upgrade: websocket", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", .. headers];
            var response = await RawHttpAnswer.SendAsync(_app.BaseAddress, "GET", target, upgrade);
            Assert.That(response.Status, Is.EqualTo(401), $"/ws with {name}: {response.Headers}");
            Assert.That(response.Header("Content-Type"), Does.StartWith("application/problem+json"), name);
            Assert.That(JsonNode.Parse(response.Body)!["code"]!.GetValue<string>(), Is.EqualTo("unauthorized"), name);
            cases++;
        }
        TestContext.Progress.WriteLine($"[authz] unauthenticated: {cases} requests, all 401 unauthorized");

        // None of it changed anything.
        var me = await _alice.GetAsync("/api/users/me");
        Assert.That((me.Str("full_name"), me["profile_picture"]?.GetValue<string>()), Is.EqualTo(("Alice Liddell", (string?)null)));
        Assert.That(HostileInput.Count(_app, "messages"), Is.EqualTo(1));
        var bobs = (await _bob.GetAsync("/api/conversations"))["conversations"]!.AsArray().Single()!;
        Assert.That(bobs.AsObject().Long("unread_count"), Is.EqualTo(1));
        await _alice.GetAsync("/api/users/me"); // alice's own token still works: logout revoked only the one token
    }

    [Test]
    public async Task AnOutsiderGets404IdenticalToAMissingConversationAndSeesNoMessage()
    {
        var missing = _conversationId + 1000;
        var seen = new List<string>();
        using var client = _mallory.Client();

        async Task<JsonObject> Problem(HttpRequestMessage request, string what)
        {
            var response = await client.SendAsync(request);
            var body = await HostileInput.AssertProblemAsync(response, 404, "not_found", what);
            seen.Add(body.ToJsonString());
            return HostileInput.WithoutTraceId(body);
        }

        foreach (var suffix in new[] { "", "?limit=200", $"?before={_secretMessageId + 1}", "?before=9223372036854775807&limit=1" })
        {
            var theirs = await Problem(new(HttpMethod.Get, $"/api/conversations/{_conversationId}/messages{suffix}"), "outsider history");
            var none = await Problem(new(HttpMethod.Get, $"/api/conversations/{missing}/messages{suffix}"), "missing history");
            Assert.That(JsonNode.DeepEquals(theirs, none), Is.True, $"history{suffix}: {theirs.ToJsonString()} vs {none.ToJsonString()}");
        }
        foreach (var body in new JsonObject?[] { null, new(), new() { ["up_to_message_id"] = _secretMessageId } })
        {
            HttpRequestMessage Read(long id) => new(HttpMethod.Post, $"/api/conversations/{id}/read") { Content = body is null ? null : JsonContent.Create(body) };
            var theirs = await Problem(Read(_conversationId), "outsider read");
            var none = await Problem(Read(missing), "missing read");
            Assert.That(JsonNode.DeepEquals(theirs, none), Is.True, $"read {body?.ToJsonString()}: {theirs.ToJsonString()} vs {none.ToJsonString()}");
        }

        var list = await client.GetAsync("/api/conversations");
        var listText = await list.Content.ReadAsStringAsync();
        seen.Add(listText);
        Assert.That(JsonNode.Parse(listText)!["conversations"]!.AsArray(), Is.Empty);

        // Over the socket: no hint in connected, mark_read and typing are not_found exactly as for what does not exist,
        // sync from 0 replays nothing of theirs.
        await using var socket = await _mallory.ConnectAsync();
        await using var aliceSocket = await _alice.ConnectAsync();
        await aliceSocket.ExpectAsync("connected");
        var connected = await socket.ExpectAsync("connected");
        Assert.That(connected.Long("last_message_id"), Is.Zero);

        async Task<JsonObject> Error(JsonObject frame)
        {
            await socket.SendAsync(frame);
            var error = await socket.ExpectAsync("error");
            FrameAssert.HasExactKeys(error, FrameAssert.ErrorKeys);
            Assert.That(error.Str("code"), Is.EqualTo("not_found"), frame.ToJsonString());
            return error;
        }
        var markTheirs = await Error(new JsonObject { ["type"] = "mark_read", ["conversation_id"] = _conversationId, ["up_to_message_id"] = _secretMessageId });
        var markNone = await Error(new JsonObject { ["type"] = "mark_read", ["conversation_id"] = missing, ["up_to_message_id"] = _secretMessageId });
        Assert.That(JsonNode.DeepEquals(markTheirs, markNone), Is.True, $"{markTheirs.ToJsonString()} vs {markNone.ToJsonString()}");
        var typingAlice = await Error(new JsonObject { ["type"] = "typing", ["receiver"] = "alice" });
        var typingGhost = await Error(new JsonObject { ["type"] = "typing", ["receiver"] = "ghost" });
        Assert.That(JsonNode.DeepEquals(typingAlice, typingGhost), Is.True, $"{typingAlice.ToJsonString()} vs {typingGhost.ToJsonString()}");

        await socket.SendAsync(new JsonObject { ["type"] = "sync", ["after_message_id"] = 0, ["limit"] = 1000 });
        var syncComplete = await socket.ExpectAsync("sync_complete");
        Assert.That((syncComplete.Long("last_message_id"), syncComplete.Bool("has_more")), Is.EqualTo((0L, false)));

        // Live traffic between the two never reaches the outsider either.
        var secondSecret = _secret + "-live";
        await _alice.SendAsync("bob", secondSecret);
        var rest = await socket.DrainAsync();
        Assert.That(rest, Is.Empty, string.Join(" ", rest.Select(f => f.ToJsonString())));

        // alice got no typing from mallory, and bob's unread count was not touched by mallory's reads.
        var aliceFrames = await aliceSocket.DrainAsync();
        Assert.That(aliceFrames.Select(f => f.Type()), Has.None.EqualTo("typing"));
        var bobs = (await _bob.GetAsync("/api/conversations"))["conversations"]!.AsArray().Single()!.AsObject();
        Assert.That(bobs.Long("unread_count"), Is.EqualTo(2));

        // Writing to alice starts mallory's own conversation; it never lands in theirs.
        var own = await _mallory.SendAsync("alice", "hi alice");
        Assert.That(own.Long("conversation_id"), Is.Not.EqualTo(_conversationId));
        var ownList = await _mallory.GetAsync("/api/conversations");
        seen.Add(ownList.ToJsonString());
        var ownHistory = await _mallory.GetAsync($"/api/conversations/{own.Long("conversation_id")}/messages");
        seen.Add(ownHistory.ToJsonString());
        Assert.That(ownHistory["messages"]!.AsArray().Select(m => m!["message"]!.GetValue<string>()), Is.EqualTo(new[] { "hi alice" }));

        List<JsonObject> frames;
        lock (socket.History) frames = [.. socket.History];
        seen.AddRange(frames.Select(f => f.ToJsonString()));
        Assert.That(seen.Where(s => s.Contains(_secret, StringComparison.Ordinal)), Is.Empty, "the secret text reaches the outsider nowhere");
        TestContext.Progress.WriteLine($"[authz] outsider: {seen.Count} bodies and frames checked, none holds the secret");
    }
}
