using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>Authentication on every endpoint, problem details, unknown routes, health, OpenAPI and verbatim storage.</summary>
public sealed class ApiSurfaceTests : ApiTestBase
{
    /// <summary>Every endpoint the contract puts behind a bearer token, with a body it would otherwise accept.</summary>
    private static IEnumerable<(HttpMethod Method, string Path, Func<HttpContent?> Body)> AuthenticatedEndpoints()
    {
        yield return (HttpMethod.Post, "/api/auth/logout", () => null);
        yield return (HttpMethod.Get, "/api/users/me", () => null);
        yield return (HttpMethod.Patch, "/api/users/me", () => Json("""{"full_name": "X"}"""));
        yield return (HttpMethod.Put, "/api/users/me/avatar", () => HttpApi.Bytes(HttpApi.Images.Png(), "image/png"));
        yield return (HttpMethod.Delete, "/api/users/me/avatar", () => null);
        yield return (HttpMethod.Get, "/api/users/search?q=bo", () => null);
        yield return (HttpMethod.Post, "/api/messages", () => Json("""{"receiver": "bob", "message": "hi"}"""));
        yield return (HttpMethod.Get, "/api/conversations", () => null);
        yield return (HttpMethod.Get, "/api/conversations/1/messages", () => null);
        yield return (HttpMethod.Post, "/api/conversations/1/read", () => Json("{}"));
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task AssertEveryEndpointRefusesAsync(Action<HttpRequestHeaders> authorize)
    {
        using var client = App.CreateClient();
        foreach (var (method, path, body) in AuthenticatedEndpoints())
        {
            var request = new HttpRequestMessage(method, path) { Content = body() };
            authorize(request.Headers);
            await (await client.SendAsync(request)).AssertProblemAsync(401, "unauthorized");
        }
    }

    [Test]
    public async Task EveryAuthenticatedEndpointWithoutTokenIs401Unauthorized()
    {
        await App.RegisterAsync("bob");
        await AssertEveryEndpointRefusesAsync(_ => { });
    }

    [Test]
    public async Task EveryAuthenticatedEndpointWithUnknownTokenIs401Unauthorized()
    {
        await App.RegisterAsync("bob");
        await AssertEveryEndpointRefusesAsync(h => h.Authorization = new AuthenticationHeaderValue("Bearer", "bm90LWEtcmVhbC10b2tlbi1hdC1hbGwtaG9uZXN0bHk"));
    }

    [Test]
    public async Task EveryAuthenticatedEndpointWithEmptyOrNonBearerCredentialsIs401Unauthorized()
    {
        var bob = await App.RegisterAsync("bob");
        await AssertEveryEndpointRefusesAsync(h => h.TryAddWithoutValidation("Authorization", "Bearer "));
        await AssertEveryEndpointRefusesAsync(h => h.Authorization = new AuthenticationHeaderValue("Basic", bob.Token));
    }

    [Test]
    public async Task EveryAuthenticatedEndpointWithRevokedTokenIs401Unauthorized()
    {
        var alice = await App.RegisterAsync("alice");
        await App.RegisterAsync("bob");
        using (var client = alice.Client())
            Assert.That((int)(await client.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(204));

        await AssertEveryEndpointRefusesAsync(h => h.Authorization = new AuthenticationHeaderValue("Bearer", alice.Token));
    }

    [Test]
    public async Task TokenIsNotAcceptedInTheQueryStringOfHttpEndpoints()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = App.CreateClient();

        await (await client.GetAsync($"/api/users/me?token={Uri.EscapeDataString(alice.Token)}")).AssertProblemAsync(401, "unauthorized");
    }

    [Test]
    public async Task PublicEndpointsNeedNoToken()
    {
        using var client = App.CreateClient();

        await (await client.RegisterAsync(new JsonObject { ["username"] = "alice", ["password"] = "password123" })).JsonAsync(201);
        await (await client.LoginAsync("alice", "password123")).JsonAsync(200);
        Assert.That((int)(await client.GetAsync("/healthz")).StatusCode, Is.EqualTo(200));
        // Avatar download is public: a 404 problem (no avatar), not a 401.
        await (await client.GetAsync("/api/users/alice/avatar")).AssertProblemAsync(404, "not_found");
    }

    [TestCase("/api/nope")]
    [TestCase("/api/users/alice/unknown")]
    [TestCase("/definitely/not/here")]
    public async Task UnknownRouteIs404NotFoundProblem(string path)
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        await (await client.GetAsync(path)).AssertProblemAsync(404, "not_found");
    }

    [Test]
    public async Task WrongMethodOnKnownRouteIsAProblemDetailsError()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        var response = await client.DeleteAsync("/api/users/me");
        var text = await response.Content.ReadAsStringAsync();

        Assert.That((int)response.StatusCode, Is.InRange(400, 499), text);
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var body = JsonNode.Parse(text)!.AsObject();
        foreach (var member in HttpApi.ProblemMembers) Assert.That(body.ContainsKey(member), Is.True, $"missing '{member}' in {text}");
        Assert.That(body["status"]!.GetValue<int>(), Is.EqualTo((int)response.StatusCode));
    }

    [Test]
    public async Task UnknownConversationIs404NotFoundProblem()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        await (await client.GetAsync("/api/conversations/999999/messages")).AssertProblemAsync(404, "not_found");
    }

    [Test]
    public async Task ErrorResponsesAreProblemDetailsForEveryErrorKind()
    {
        // AssertProblemAsync checks content type application/problem+json and the members status, title, detail, code.
        var alice = await App.RegisterAsync("alice");
        using var anon = App.CreateClient();
        using var client = alice.Client();

        await (await anon.RegisterRawAsync("{")).AssertProblemAsync(400, "bad_request");
        await (await anon.RegisterAsync(new JsonObject { ["username"] = "ALICE", ["password"] = "password123" })).AssertProblemAsync(409, "username_taken");
        await (await anon.LoginAsync("alice", "wrong-password")).AssertProblemAsync(401, "invalid_credentials");
        await (await anon.GetAsync("/api/users/me")).AssertProblemAsync(401, "unauthorized");
        await (await client.SendMessageAsync(new JsonObject { ["receiver"] = "ghost", ["message"] = "hi" })).AssertProblemAsync(404, "unknown_user");
        await (await client.SendMessageAsync(new JsonObject { ["receiver"] = "alice", ["message"] = "hi" })).AssertProblemAsync(400, "invalid_receiver");
        await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes("text"u8.ToArray(), "text/plain"))).AssertProblemAsync(415, "unsupported_media_type");
        await (await client.GetAsync("/api/nowhere")).AssertProblemAsync(404, "not_found");
    }

    [Test]
    public async Task ProblemDetailsDoNotEchoTheRejectedPassword()
    {
        using var client = App.CreateClient();
        const string secret = "s3cr3t!";

        var problem = await (await client.RegisterAsync(new JsonObject { ["username"] = "alice", ["password"] = secret })).AssertProblemAsync(400, "bad_request");

        Assert.That(problem.ToJsonString(), Does.Not.Contain(secret));
    }

    [Test]
    public async Task HealthzIs200()
    {
        using var client = App.CreateClient();

        var response = await client.GetAsync("/healthz");

        Assert.That((int)response.StatusCode, Is.EqualTo(200), await response.Content.ReadAsStringAsync());
    }

    [Test]
    public async Task OpenApiDocumentIsJsonListingMessagesAndRegisterPaths()
    {
        using var client = App.CreateClient();

        var response = await client.GetAsync("/openapi/v1.json");
        var document = await response.JsonAsync(200);

        Assert.That(response.Content.Headers.ContentType?.MediaType, Does.Contain("json"));
        var paths = document["paths"]!.AsObject();
        Assert.That(paths.Select(p => p.Key), Does.Contain("/api/messages").And.Contain("/api/auth/register"));
    }

    private static readonly string[] HostileStrings = ["'; DROP TABLE users; --", "<script>alert(1)</script>", "Robert'); DROP TABLE messages;-- \"&amp;"];

    [Test]
    public async Task SqlAndScriptInFullNameAreStoredAndReturnedVerbatim()
    {
        var searcher = await App.RegisterAsync("searcher");
        for (var i = 0; i < HostileStrings.Length; i++)
        {
            var name = HostileStrings[i];
            using var anon = App.CreateClient();
            var registered = await (await anon.RegisterAsync(new JsonObject { ["username"] = $"hostile{i}", ["password"] = "password123", ["full_name"] = name })).JsonAsync(201);
            Assert.That(registered["user"]!.AsObject().Str("full_name"), Is.EqualTo(name));

            var login = await (await anon.LoginAsync($"hostile{i}", "password123")).JsonAsync(200);
            Assert.That(login["user"]!.AsObject().Str("full_name"), Is.EqualTo(name));

            var results = (await searcher.GetAsync($"/api/users/search?q=hostile{i}"))["results"]!.AsArray();
            Assert.That(results.Single()!["full_name"]!.GetValue<string>(), Is.EqualTo(name));
        }

        var updater = await App.RegisterAsync("updater");
        using var client = updater.Client();
        foreach (var name in HostileStrings)
        {
            var patched = await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = name })).JsonAsync(200);
            Assert.That(patched.Str("full_name"), Is.EqualTo(name));
            Assert.That((await updater.GetAsync("/api/users/me")).Str("full_name"), Is.EqualTo(name));
        }

        // The tables are still there and whole.
        Assert.That((await searcher.GetAsync("/api/users/search?q=hostile"))["results"]!.AsArray(), Has.Count.EqualTo(HostileStrings.Length));
    }

    [Test]
    public async Task SqlAndScriptInMessageTextAreStoredAndReturnedVerbatim()
    {
        var alice = await App.RegisterAsync("alice");
        var bob = await App.RegisterAsync("bob");

        var ids = new List<long>();
        long conversation = 0;
        foreach (var text in HostileStrings)
        {
            var sent = await alice.SendAsync("bob", text);
            Assert.That(sent.Str("message"), Is.EqualTo(text));
            ids.Add(sent.Long("message_id"));
            conversation = sent.Long("conversation_id");
        }

        var history = (await bob.GetAsync($"/api/conversations/{conversation}/messages"))["messages"]!.AsArray();
        Assert.That(history.Select(m => m!["message"]!.GetValue<string>()), Is.EqualTo(HostileStrings));
        Assert.That(history.Select(m => m!["message_id"]!.GetValue<long>()), Is.EqualTo(ids));
        var last = (await bob.GetAsync("/api/conversations"))["conversations"]!.AsArray().Single()!["last_message"]!.AsObject();
        Assert.That(last.Str("message"), Is.EqualTo(HostileStrings[^1]));
    }

    [Test]
    public async Task JsonResponsesUseTheJsonContentType()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        var response = await client.GetAsync("/api/users/me");

        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/json"));
    }
}
