using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Hardening;

/// <summary>
/// Hostile HTTP input over real Kestrel (its limits are part of the defence): malformed and mistyped JSON, wrong content
/// types, oversized bodies, long lines and headers, path tricks, and injection strings that must be stored verbatim.
/// Every refusal is a 4xx problem-details answer with a <c>code</c>; nothing is ever a 500, and nothing refused is stored.
/// </summary>
[BothStores]
[TestFixture]
public sealed class HttpFuzzTests
{
    private const string Hostile = "Robert'); DROP TABLE users;-- <script>alert(\"x\")</script> \" OR 1=1 -- %_\\ ${x}";
    private ChatApp _app = null!;
    private TestUser _alice = null!;
    private TestUser _bob = null!;
    private long _conversationId;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.Kestrel);
        _alice = await _app.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        _bob = await _app.RegisterAsync("bob", "Bob Builder", "bob@example.com");
        _conversationId = (await _alice.SendAsync("bob", "hello")).Long("conversation_id");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    /// <summary>The JSON bodies of the API: path, a valid body, its string fields and its integer fields.</summary>
    private (string Path, HttpMethod Method, Func<JsonObject> Valid, string[] Strings, string[] Integers, string[] Required)[] Bodies() =>
    [
        ("/api/auth/register", HttpMethod.Post, () => new JsonObject { ["username"] = $"u{Guid.NewGuid():N}"[..20], ["password"] = "password123", ["email"] = "n@example.com", ["full_name"] = "N" },
            ["username", "password", "email", "full_name"], [], ["username", "password"]),
        ("/api/auth/login", HttpMethod.Post, () => new JsonObject { ["username"] = "alice", ["password"] = "password123" }, ["username", "password"], [], ["username", "password"]),
        ("/api/users/me", HttpMethod.Patch, () => new JsonObject { ["full_name"] = "Changed", ["email"] = "changed@example.com" }, ["full_name", "email"], [], []),
        ("/api/messages", HttpMethod.Post, () => new JsonObject { ["receiver"] = "bob", ["message"] = "must not be stored", ["client_msg_id"] = Guid.NewGuid().ToString("N") },
            ["receiver", "message", "client_msg_id"], [], ["receiver", "message"]),
        ($"/api/conversations/{_conversationId}/read", HttpMethod.Post, () => new JsonObject { ["up_to_message_id"] = 1 }, [], ["up_to_message_id"], []),
    ];

    private (long Users, long Messages) Stored() => (HostileInput.Count(_app, "users"), HostileInput.Count(_app, "messages"));

    /// <summary>Nothing refused was stored: the users and messages counted <paramref name="before"/>, and alice's profile as registered.</summary>
    private async Task AssertNothingChangedAsync((long Users, long Messages) before)
    {
        Assert.That(Stored(), Is.EqualTo(before));
        var me = await _alice.GetAsync("/api/users/me");
        Assert.That((me.Str("full_name"), me.Str("email")), Is.EqualTo(("Alice Liddell", "alice@example.com")));
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, HttpContent content) =>
        await client.SendAsync(new HttpRequestMessage(method, path) { Content = content });

    [Test]
    public async Task MalformedJsonIsBadRequestOnEveryBodyAndNothingIsStored()
    {
        var before = Stored();
        string[] malformed =
        [
            "{", "{\"username\":", "{'username':'alice'}", "{\"a\":1,}", "[1,2", "nul", "{\"a\":NaN}", "{} trailing", "// c\n{}", "{\"a\":\"\u0001\"}",
            "[]", "\"text\"", "42", "null", "true", "{\"a\":1}{\"b\":2}", new string('[', 10_000) + new string(']', 10_000),
            string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000), "\ufeff\ufeff{}", "{\"username\":\"alice\",\"password\":\"password123\"",
        ];
        var cases = 0;
        foreach (var (path, method, _, strings, integers, _) in Bodies())
        {
            using var client = _alice.Client();
            foreach (var body in malformed)
            {
                var response = await SendAsync(client, method, path, HostileInput.Json(body));
                await HostileInput.AssertProblemAsync(response, 400, "bad_request", $"{method} {path} with {body[..Math.Min(body.Length, 40)]}");
                cases++;
            }
            // Invalid UTF-8 inside the value of one of the body's own fields.
            var field = Encoding.ASCII.GetBytes($"{{\"{strings.Concat(integers).First()}\":\"");
            var bytes = new ByteArrayContent([.. field, 0xff, 0xfe, .. "\"}"u8]) { Headers = { ContentType = new("application/json") } };
            await HostileInput.AssertProblemAsync(await SendAsync(client, method, path, bytes), 400, "bad_request", $"{path} invalid UTF-8");
            cases++;
        }
        TestContext.Progress.WriteLine($"[http-fuzz] malformed JSON: {cases} requests, all 400 bad_request");
        Assert.That(Stored(), Is.EqualTo(before));
        Assert.That((await _alice.GetAsync("/api/users/me")).Str("full_name"), Is.EqualTo("Alice Liddell"));
    }

    [Test]
    public async Task WrongJsonTypesForEveryFieldOfEveryBodyAreBadRequestAndNothingIsStored()
    {
        var before = Stored();
        string[] notStrings = ["1", "-1", "1.5", "1e400", "99999999999999999999999", "true", "false", "[]", "[\"x\"]", "{}", "{\"a\":\"b\"}"];
        string[] notIntegers = ["\"1\"", "\"\"", "\"abc\"", "true", "[]", "[1]", "{}", "1.5", "1e400", "99999999999999999999999", "-99999999999999999999999"];
        var cases = 0;
        foreach (var (path, method, valid, strings, integers, required) in Bodies())
        {
            using var client = _alice.Client();
            foreach (var field in strings.Concat(integers))
            {
                var values = strings.Contains(field) ? notStrings : notIntegers;
                if (required.Contains(field)) values = [.. values, "null"];
                foreach (var raw in values)
                {
                    var body = valid();
                    body[field] = "__RAW__";
                    var text = body.ToJsonString().Replace("\"__RAW__\"", raw, StringComparison.Ordinal);
                    await HostileInput.AssertProblemAsync(await SendAsync(client, method, path, HostileInput.Json(text)), 400, "bad_request", $"{method} {path} {field}={raw}");
                    cases++;
                }
            }
            foreach (var field in required)
            {
                var body = valid();
                body.Remove(field);
                await HostileInput.AssertProblemAsync(await SendAsync(client, method, path, HostileInput.Json(body.ToJsonString())), 400, "bad_request", $"{method} {path} without {field}");
                cases++;
            }
        }
        TestContext.Progress.WriteLine($"[http-fuzz] wrong JSON types: {cases} requests, all 400 bad_request");
        await AssertNothingChangedAsync(before);
    }

    // One content-type rule for every JSON endpoint (JsonBody.IsJson): the body must be declared application/json or
    // application/*+json, with no charset or charset=utf-8. A missing Content-Type is refused like any other type.
    private static readonly string?[] NotJsonTypes =
    [
        null, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
        "application/octet-stream", "text/json", "application/jsonx", "application/json; charset=iso-8859-1", "application/json; charset=utf-16",
    ];

    [Test]
    public async Task EveryJsonEndpointRefusesABodyNotDeclaredJsonWith415AndStoresNothing()
    {
        var before = Stored();
        using var client = _alice.Client();
        var cases = 0;
        foreach (var (path, method, valid, _, _, _) in Bodies())
        {
            foreach (var type in NotJsonTypes)
            {
                var content = new ByteArrayContent(Encoding.UTF8.GetBytes(valid().ToJsonString()));
                if (type is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
                await HostileInput.AssertProblemAsync(await SendAsync(client, method, path, content), 415, "unsupported_media_type",
                    $"{method} {path} as {type ?? "no Content-Type"}");
                cases++;
            }
        }
        TestContext.Progress.WriteLine($"[http-fuzz] bodies not declared JSON: {cases} requests, all 415 unsupported_media_type");
        await AssertNothingChangedAsync(before);
    }

    [TestCase("application/json", TestName = "EveryJsonEndpointAcceptsApplicationJson")]
    [TestCase("application/json; charset=utf-8", TestName = "EveryJsonEndpointAcceptsApplicationJsonWithUtf8Charset")]
    [TestCase("Application/JSON; Charset=\"UTF-8\"", TestName = "EveryJsonEndpointAcceptsApplicationJsonIgnoringCaseAndQuotes")]
    [TestCase("application/merge-patch+json", TestName = "EveryJsonEndpointAcceptsAStructuredSyntaxJsonType")]
    public async Task EveryJsonEndpointAcceptsABodyDeclaredJson(string type)
    {
        using var client = _alice.Client();
        foreach (var (path, method, valid, _, _, _) in Bodies())
        {
            var content = new ByteArrayContent(Encoding.UTF8.GetBytes(valid().ToJsonString())) { Headers = { ContentType = MediaTypeHeaderValue.Parse(type) } };
            var response = await SendAsync(client, method, path, content);
            Assert.That(response.IsSuccessStatusCode, Is.True, $"{method} {path} as {type}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    [Test]
    public async Task ReadWithAnEmptyBodyNeedsNoContentTypeButABodyDoes()
    {
        var path = $"/api/conversations/{_conversationId}/read";
        string[] auth = [$"Authorization: Bearer {_bob.Token}"];
        using (var client = _bob.Client())
            Assert.That((int)(await client.PostAsync(path, null)).StatusCode, Is.EqualTo(200), "no content at all");
        foreach (var (framing, body) in new[] { ("Content-Length: 0", ""), ("Transfer-Encoding: chunked", "0\r\n\r\n") })
        {
            var answer = await RawHttpAnswer.SendAsync(_app.BaseAddress, "POST", path, Encoding.ASCII.GetBytes(body), [.. auth, framing]);
            Assert.That(answer.Status, Is.EqualTo(200), $"empty body, {framing}, no Content-Type: {answer.Body}");
        }
        HostileInput.AssertProblem(await RawHttpAnswer.SendAsync(_app.BaseAddress, "POST", path, Encoding.ASCII.GetBytes("2\r\n{}\r\n0\r\n\r\n"), [.. auth, "Transfer-Encoding: chunked"]),
            415, "unsupported_media_type", "chunked {} without Content-Type");
    }

    [Test]
    public async Task BodiesThatAreNotJsonOrNotAnImageAreRefusedWithProblemDetails()
    {
        // A body that is not JSON: 400 bad_request, or 415 unsupported_media_type when refused for its content type.
        using var client = _alice.Client();
        async Task Refused(HttpClient c, string path, HttpContent content, string what)
        {
            var response = await c.PostAsync(path, content);
            var code = (int)response.StatusCode == 415 ? "unsupported_media_type" : "bad_request";
            await HostileInput.AssertProblemAsync(response, (int)response.StatusCode == 415 ? 415 : 400, code, what);
        }
        await Refused(client, "/api/messages", new FormUrlEncodedContent(new Dictionary<string, string> { ["receiver"] = "bob", ["message"] = "form" }), "form-encoded send");
        await Refused(client, "/api/messages", new MultipartFormDataContent { { new StringContent("bob"), "receiver" }, { new StringContent("multipart"), "message" } }, "multipart send");
        await Refused(client, "/api/messages", new StringContent("receiver=bob message=plain", Encoding.UTF8, "text/plain"), "text/plain send");
        await Refused(client, "/api/messages", new ByteArrayContent("<message><receiver>bob</receiver></message>"u8.ToArray()) { Headers = { ContentType = new("application/xml") } }, "XML send");
        using (var anonymous = _app.CreateClient())
            await Refused(anonymous, "/api/auth/register", new FormUrlEncodedContent(new Dictionary<string, string> { ["username"] = "formuser", ["password"] = "password123" }), "form-encoded register");
        Assert.That(HostileInput.Count(_app, "users"), Is.EqualTo(2));

        // Avatars: only the four image types, and the bytes must be that image. An SVG (script-capable) is never accepted.
        var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3 };
        foreach (var (type, bytes) in new (string?, byte[])[]
        {
            ("application/json", png), ("text/plain", png), ("application/x-www-form-urlencoded", png), (null, png),
            ("image/svg+xml", "<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"/>"u8.ToArray()), ("text/html", "<script>alert(1)</script>"u8.ToArray()),
            ("image/png", "<script>alert(1)</script>"u8.ToArray()), ("image/jpeg", png),
        })
        {
            var content = new ByteArrayContent(bytes);
            if (type is not null) content.Headers.ContentType = MediaTypeHeaderValue.Parse(type);
            await HostileInput.AssertProblemAsync(await client.PutAsync("/api/users/me/avatar", content), 415, "unsupported_media_type", $"avatar as {type ?? "no type"}");
        }
        Assert.That((await _alice.GetAsync("/api/users/me"))["profile_picture"], Is.Null);
        Assert.That(HostileInput.Count(_app, "messages"), Is.EqualTo(1));
    }

    [Test]
    public async Task BodiesOverTheKestrelLimitAre413TooLargeAndTheServerKeepsServing()
    {
        const int limit = 1024 * 1024 + 64 * 1024;
        string[] auth = [$"Authorization: Bearer {_alice.Token}"];
        foreach (var (method, path) in new[] { ("POST", "/api/messages"), ("POST", "/api/auth/register"), ("POST", "/api/auth/login"),
                     ("PATCH", "/api/users/me"), ("POST", $"/api/conversations/{_conversationId}/read") })
        {
            // A declared length over the limit is refused before any of the body is read, so none is sent.
            HostileInput.AssertProblem(await RawHttpAnswer.SendAsync(_app.BaseAddress, method, path, [.. auth, "Content-Type: application/json", $"Content-Length: {limit + 1024}"]),
                413, "too_large", $"{method} {path}");
            // Chunked (no length up front): the server must count as it reads; the last byte sent is the one over the limit.
            HostileInput.AssertProblem(await RawHttpAnswer.SendAsync(_app.BaseAddress, method, path, ChunkedJson(limit + 1),
                    [.. auth, "Content-Type: application/json", "Transfer-Encoding: chunked"]),
                413, "too_large", $"{method} {path} chunked");
        }
        using var client = _alice.Client();
        // An avatar over Chat:MaxAvatarBytes but under the Kestrel limit is refused by the endpoint, also 413.
        var avatar = new byte[1024 * 1024 + 1];
        new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }.CopyTo(avatar, 0);
        await HostileInput.AssertProblemAsync(await client.PutAsync("/api/users/me/avatar", new ByteArrayContent(avatar) { Headers = { ContentType = new("image/png") } }), 413, "too_large", "avatar");
        HostileInput.AssertProblem(await RawHttpAnswer.SendAsync(_app.BaseAddress, "PUT", "/api/users/me/avatar", [.. auth, "Content-Type: image/png", $"Content-Length: {limit + 1}"]),
            413, "too_large", "avatar over the Kestrel limit");

        Assert.That(HostileInput.Count(_app, "messages"), Is.EqualTo(1));
        using var fresh = _app.CreateClient();
        Assert.That((int)(await fresh.GetAsync("/healthz")).StatusCode, Is.EqualTo(200));
        await _alice.SendAsync("bob", "still serving");
    }

    /// <summary>A JSON body of <paramref name="bytes"/> bytes in 64 KiB chunks, without the terminating chunk.</summary>
    private static byte[] ChunkedJson(int bytes)
    {
        var json = Encoding.UTF8.GetBytes("{\"receiver\":\"bob\",\"message\":\"" + new string('a', bytes) + "\"}").AsSpan(0, bytes);
        var framed = new MemoryStream();
        for (var at = 0; at < json.Length; at += 64 * 1024)
        {
            var chunk = json.Slice(at, Math.Min(64 * 1024, json.Length - at));
            framed.Write(Encoding.ASCII.GetBytes($"{chunk.Length:x}\r\n"));
            framed.Write(chunk);
            framed.Write("\r\n"u8);
        }
        return framed.ToArray();
    }

    [Test]
    public async Task VeryLongRequestLinesAndHeadersAre4xxAndTheServerKeepsServing()
    {
        var cases = new List<(string What, Func<HttpClient, Task<HttpResponseMessage>> Send)>
        {
            ("20 KB query string", c => c.GetAsync("/api/users/search?q=" + new string('a', 20_000))),
            ("20 KB path", c => c.GetAsync("/api/users/" + new string('a', 20_000) + "/avatar")),
            ("40 KB header", c => c.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/users/me") { Headers = { { "X-Long", new string('h', 40_000) } } })),
            ("200 headers of 200 bytes", c =>
            {
                var request = new HttpRequestMessage(HttpMethod.Get, "/api/users/me");
                for (var i = 0; i < 200; i++) request.Headers.Add($"X-H{i}", new string('h', 200));
                return c.SendAsync(request);
            }),
            ("40 KB bearer token", c => c.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/users/me") { Headers = { { "Authorization", "Bearer " + new string('t', 40_000) } } })),
        };
        foreach (var (what, send) in cases)
        {
            using var client = _alice.Client();
            var response = await send(client);
            Assert.That((int)response.StatusCode, Is.InRange(400, 499), what);
            TestContext.Progress.WriteLine($"[http-fuzz] {what}: {(int)response.StatusCode}");
            using var fresh = _app.CreateClient();
            Assert.That((int)(await fresh.GetAsync("/healthz")).StatusCode, Is.EqualTo(200), $"serving after {what}");
        }
        // Long but within the limits: answered normally (a 5 KB search term simply finds nobody; a 5 KB unknown token is 401).
        Assert.That((await _alice.GetAsync("/api/users/search?q=" + new string('a', 5000)))["results"]!.AsArray(), Is.Empty);
        using var anonymous = _app.CreateClient();
        var longToken = new HttpRequestMessage(HttpMethod.Get, "/api/users/me") { Headers = { { "Authorization", "Bearer " + new string('t', 5000) } } };
        await HostileInput.AssertProblemAsync(await anonymous.SendAsync(longToken), 401, "unauthorized", "5 KB token");
    }

    [Test]
    public async Task PathTricksInTheAvatarUsernameAre404NotFoundAndNeverAFile()
    {
        using (var client = _alice.Client())
        {
            var png = new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 7, 7, 7 };
            Assert.That((int)(await client.PutAsync("/api/users/me/avatar", new ByteArrayContent(png) { Headers = { ContentType = new("image/png") } })).StatusCode, Is.EqualTo(200));
        }
        // Control: the real avatar is served (so the 404s below are about the tricks, not a broken route).
        var control = await RawHttpAnswer.SendAsync(_app.BaseAddress, "GET", "/api/users/ALICE/avatar");
        Assert.That(control.Status, Is.EqualTo(200));

        string[] tricks =
        [
            "/api/users/..%2F..%2Fetc%2Fpasswd/avatar", "/api/users/%2e%2e/avatar", "/api/users/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd/avatar",
            "/api/users/..%2f..%2f..%2f..%2fetc%2fpasswd/avatar", "/api/users/..%5c..%5cwindows%5cwin.ini/avatar", "/api/users/%252e%252e%252fetc%252fpasswd/avatar",
            "/api/users/../../../../etc/passwd/avatar", "/api/users/alice/../../../etc/passwd", "/api/users/alice%2F..%2Fbob/avatar",
            "/api/users/alice%27%20OR%20%271%27%3D%271/avatar", "/api/users/%2Fetc%2Fpasswd/avatar", "/api/users/..%c0%af..%c0%afetc%c0%afpasswd/avatar",
            "/api/users/alice/avatar/..%2F..%2F..%2Fchat.db", "/api/users/..%2F..%2F..%2F..%2Fproc%2Fself%2Fenviron/avatar",
        ];
        foreach (var path in tricks)
        {
            var response = await RawHttpAnswer.SendAsync(_app.BaseAddress, "GET", path);
            Assert.That(response.Status, Is.EqualTo(404), $"{path}: {response.Headers}\n{response.Body}");
            Assert.That(response.Header("Content-Type"), Does.StartWith("application/problem+json"), path);
            Assert.That(JsonNode.Parse(response.Body)!["code"]!.GetValue<string>(), Is.EqualTo("not_found"), path);
            Assert.That(response.Body, Does.Not.Contain("root:").And.Not.Contain("PNG").And.Not.Contain("SQLite"), path);
        }
        // A NUL byte in the path is refused by Kestrel itself before routing: a plain 400, never a file.
        var nul = await RawHttpAnswer.SendAsync(_app.BaseAddress, "GET", "/api/users/alice%00/avatar");
        Assert.That(nul.Status, Is.InRange(400, 499).And.Not.EqualTo(200));
        Assert.That(nul.Body, Does.Not.Contain("PNG"));
        TestContext.Progress.WriteLine($"[http-fuzz] path tricks: {tricks.Length} requests, all 404 not_found; NUL in path: {nul.Status}");
    }

    [Test]
    public async Task SqlMetacharactersAndScriptTagsInEveryStoredStringAreStoredAndReturnedVerbatim()
    {
        const string email = "o'brien'--/*x*/@example.com";
        const string patchedName = "<img src=x onerror=alert(1)>' OR ''=' ; DELETE FROM messages; --";
        const string patchedEmail = "x'or'1'='1@example.com";
        const string text = "'; DELETE FROM messages; -- <script>document.cookie</script> \" OR \"\"=\" \\ %_ \u0001 😀";
        const string clientMsgId = "'; DROP TABLE messages;--<b>\"x\"</b>";

        var mallory = await _app.RegisterAsync("mallory", Hostile, email);
        var me = await mallory.GetAsync("/api/users/me");
        Assert.That((me.Str("full_name"), me.Str("email")), Is.EqualTo((Hostile, email)));

        using (var client = mallory.Client())
        {
            var patch = await client.PatchAsJsonAsync("/api/users/me", new JsonObject { ["full_name"] = patchedName, ["email"] = patchedEmail });
            Assert.That((int)patch.StatusCode, Is.EqualTo(200));
            Assert.That(patch.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"), "never served as HTML");
        }
        me = await mallory.GetAsync("/api/users/me");
        Assert.That((me.Str("full_name"), me.Str("email")), Is.EqualTo((patchedName, patchedEmail)));

        // Search finds her by the exact email and by the first word of the hostile name, and shows them verbatim.
        foreach (var q in new[] { patchedEmail, "<img" })
        {
            var found = (await _bob.GetAsync("/api/users/search?q=" + Uri.EscapeDataString(q)))["results"]!.AsArray();
            Assert.That(found.Select(u => u!["full_name"]!.GetValue<string>()), Is.EqualTo(new[] { patchedName }), q);
        }

        var sent = await mallory.SendAsync("bob", text, clientMsgId);
        Assert.That(sent.Str("message"), Is.EqualTo(text));
        var again = await mallory.SendAsync("bob", text, clientMsgId);
        Assert.That(again.Long("message_id"), Is.EqualTo(sent.Long("message_id")), "the hostile client_msg_id is matched verbatim (idempotent repeat)");
        var history = await _bob.GetAsync($"/api/conversations/{sent.Long("conversation_id")}/messages");
        Assert.That(history["messages"]!.AsArray().Select(m => m!["message"]!.GetValue<string>()), Is.EqualTo(new[] { text }));
        var list = await _bob.GetAsync("/api/conversations");
        var fromMallory = list["conversations"]!.AsArray().Single(c => c!["other_user"]!["username"]!.GetValue<string>() == "mallory")!;
        Assert.That(fromMallory["last_message"]!["message"]!.GetValue<string>(), Is.EqualTo(text));
        Assert.That(fromMallory["other_user"]!["full_name"]!.GetValue<string>(), Is.EqualTo(patchedName));

        // Straight from the file: the rows hold the text as sent, the tables are all still there.
        Assert.That(HostileInput.MessagesInDatabase(_app)[sent.Long("message_id")], Is.EqualTo(text));
        Assert.That(HostileInput.Count(_app, "users"), Is.EqualTo(3));
        Assert.That(HostileInput.Count(_app, "messages"), Is.EqualTo(2));

        // Usernames are restricted: injection there is refused, not stored.
        using var anonymous = _app.CreateClient();
        var bad = await anonymous.PostAsJsonAsync("/api/auth/register", new JsonObject { ["username"] = "x'; DROP TABLE users;--", ["password"] = "password123" });
        await HostileInput.AssertProblemAsync(bad, 400, "bad_request", "SQL in a username");
    }

    [Test]
    public async Task SearchWithSqlInjectionOrWildcardsReturnsNothingExtra()
    {
        await _app.RegisterAsync("carol", "Carol Jones");
        await _app.RegisterAsync("dave", "Dave Smith");
        Assert.That((await _bob.GetAsync("/api/users/search?q=a"))["results"]!.AsArray().Select(u => u!["username"]!.GetValue<string>()), Is.EqualTo(new[] { "alice" }), "control");
        foreach (var q in new[] { "' OR 1=1 --", "' OR '1'='1", "\" OR \"\"=\"", "%", "_", "a%", "%a", "*", "a' --", "') OR ('1'='1", "'; SELECT * FROM users; --", "\\", "[a-z]" })
        {
            var results = (await _bob.GetAsync("/api/users/search?q=" + Uri.EscapeDataString(q)))["results"]!.AsArray();
            Assert.That(results, Is.Empty, $"q={q}");
        }
    }

    [Test]
    public async Task UnknownRoutesAndMethodsAreProblemDetailsNot500()
    {
        using var client = _alice.Client();
        await HostileInput.AssertProblemAsync(await client.GetAsync("/api/nope"), 404, "not_found", "unknown path");
        await HostileInput.AssertProblemAsync(await client.GetAsync("/api/conversations/abc/messages"), 404, "not_found", "non-numeric id");
        await HostileInput.AssertProblemAsync(await client.GetAsync("/api/conversations/99999999999999999999999/messages"), 404, "not_found", "id beyond long");
        var wrongMethod = await client.DeleteAsync("/api/messages");
        Assert.That((int)wrongMethod.StatusCode, Is.EqualTo(405));
        Assert.That(wrongMethod.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        Assert.That(JsonNode.Parse(await wrongMethod.Content.ReadAsStringAsync())!["code"], Is.Not.Null);
        foreach (var query in new[] { "limit=abc", "limit=0", "limit=-5", "limit=1.5", "limit=1&limit=2", "before=x", "before=1e400" })
            await HostileInput.AssertProblemAsync(await client.GetAsync($"/api/conversations/{_conversationId}/messages?{query}"), 400, "bad_request", query);
    }
}
