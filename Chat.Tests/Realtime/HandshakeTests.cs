using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;

namespace Chat.Tests.Realtime;

/// <summary>
/// Section 3: a bad or missing token is answered 401 before the upgrade; <c>?token=</c> works; a plain HTTP
/// request to <c>/ws</c> gets 400.
/// </summary>
[TestFixture(Transport.TestHost)]
[TestFixture(Transport.Kestrel)]
public sealed class HandshakeTests(Transport transport)
{
    private ChatApp _app = null!;

    [SetUp]
    public async Task SetUp() => _app = await ChatApp.StartAsync(transport);

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    /// <summary>Attempts the upgrade and returns the HTTP status the server answered instead of 101.</summary>
    private async Task<int> RejectedUpgradeStatusAsync(string? bearer, string? queryToken)
    {
        var path = queryToken is null ? "ws" : $"ws?token={Uri.EscapeDataString(queryToken)}";
        if (transport == Transport.TestHost)
        {
            var client = _app.App.GetTestServer().CreateWebSocketClient();
            if (bearer is not null) client.ConfigureRequest = r => r.Headers.Authorization = $"Bearer {bearer}";
            var uri = new Uri(new Uri("ws://localhost/"), path);
            WebSocket? socket = null;
            var error = Assert.CatchAsync<Exception>(async () =>
                socket = await client.ConnectAsync(uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
            socket?.Dispose();
            // TestHost reports the refused handshake as "Incomplete handshake, status code: NNN".
            var match = System.Text.RegularExpressions.Regex.Match(error!.Message, @"status code: (\d{3})");
            Assert.That(match.Success, Is.True, $"the handshake failure names a status code: {error}");
            return int.Parse(match.Groups[1].Value);
        }
        else
        {
            using var client = new ClientWebSocket();
            client.Options.CollectHttpResponseDetails = true;
            if (bearer is not null) client.Options.SetRequestHeader("Authorization", $"Bearer {bearer}");
            var uri = new UriBuilder(new Uri(_app.BaseAddress, path)) { Scheme = "ws" }.Uri;
            Assert.CatchAsync<WebSocketException>(async () =>
                await client.ConnectAsync(uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.That(client.State, Is.Not.EqualTo(WebSocketState.Open));
            return (int)client.HttpStatusCode;
        }
    }

    [Test]
    public async Task MissingTokenIsRefusedWith401BeforeTheUpgrade()
    {
        Assert.That(await RejectedUpgradeStatusAsync(bearer: null, queryToken: null), Is.EqualTo(401));
    }

    [Test]
    public async Task UnknownBearerTokenIsRefusedWith401BeforeTheUpgrade()
    {
        await _app.RegisterAsync("alice");
        Assert.That(await RejectedUpgradeStatusAsync(bearer: "not-a-real-token", queryToken: null), Is.EqualTo(401));
    }

    [Test]
    public async Task UnknownQueryTokenIsRefusedWith401BeforeTheUpgrade()
    {
        await _app.RegisterAsync("alice");
        Assert.That(await RejectedUpgradeStatusAsync(bearer: null, queryToken: "not-a-real-token"), Is.EqualTo(401));
    }

    [Test]
    public async Task RevokedTokenIsRefusedWith401BeforeTheUpgrade()
    {
        var alice = await _app.RegisterAsync("alice");
        using (var client = alice.Client())
        {
            var logout = await client.PostAsync("/api/auth/logout", null);
            Assert.That((int)logout.StatusCode, Is.EqualTo(204));
        }
        Assert.That(await RejectedUpgradeStatusAsync(bearer: alice.Token, queryToken: null), Is.EqualTo(401));
        Assert.That(await RejectedUpgradeStatusAsync(bearer: null, queryToken: alice.Token), Is.EqualTo(401));
    }

    [Test]
    public async Task BearerHeaderTokenOpensTheSocket()
    {
        var alice = await _app.RegisterAsync("alice");
        await using var socket = await alice.ConnectAsync();
        var connected = await socket.ExpectAsync("connected");
        Assert.That(connected.Str("username"), Is.EqualTo("alice"));
        await socket.AssertStillOpenAsync();
    }

    [Test]
    public async Task QueryStringTokenOpensTheSocket()
    {
        var alice = await _app.RegisterAsync("alice");
        await using var socket = await alice.ConnectAsync(viaQuery: true);
        var connected = await socket.ExpectAsync("connected");
        Assert.That(connected.Str("username"), Is.EqualTo("alice"));
        await socket.AssertStillOpenAsync();
    }

    [Test]
    public async Task QueryStringTokenIsNotAcceptedOutsideTheWebSocketEndpoint()
    {
        // ?token= exists for browsers opening a WebSocket; the HTTP API still needs the header.
        var alice = await _app.RegisterAsync("alice");
        using var client = _app.CreateClient();
        var response = await client.GetAsync($"/api/users/me?token={Uri.EscapeDataString(alice.Token)}");
        Assert.That((int)response.StatusCode, Is.EqualTo(401));
    }

    [Test]
    public async Task PlainHttpGetIsAnswered400ProblemWithCodeBadRequest()
    {
        // With a valid token, so the only thing wrong with the request is the missing upgrade.
        var alice = await _app.RegisterAsync("alice");
        using var client = alice.Client();
        var response = await client.GetAsync("/ws");
        Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.BadRequest));
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"));
        var problem = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That(problem!["status"]?.GetValue<int>(), Is.EqualTo(400), problem.ToJsonString());
        Assert.That(problem.Str("code"), Is.EqualTo("bad_request"), problem.ToJsonString());
    }
}
