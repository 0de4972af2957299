using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// An address a client talks to: one node directly, or nginx in front of both. Every call names the endpoint, so a
/// test reads as "alice sends through node A, bob reads through node B".
/// </summary>
public sealed class ChatEndpoint(string name, Uri baseAddress)
{
    /// <summary>"node A", "node B" or "nginx", for failure messages.</summary>
    public string Name { get; } = name;

    public Uri BaseAddress { get; } = baseAddress;

    public override string ToString() => Name;

    public HttpClient CreateClient(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    /// <summary>Registers a user through this endpoint (asserts 201).</summary>
    public async Task<ClusterUser> RegisterAsync(string username, string? fullName = null, string? email = null, string password = "password123")
    {
        using var client = CreateClient();
        return new ClusterUser(username, await client.RegisterAsync(username, fullName, email, password, $" through {Name}"), password);
    }

    /// <summary>Logs in through this endpoint (asserts 200) and returns a new token for the user.</summary>
    public async Task<ClusterUser> LoginAsync(ClusterUser user)
    {
        using var client = CreateClient();
        var response = await client.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = user.Username, ["password"] = user.Password });
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), $"login {user.Username} through {Name}: {json?.ToJsonString()}");
        return user with { Token = json!["token"]!.GetValue<string>() };
    }

    /// <summary>Opens a WebSocket as <paramref name="user"/> (bearer header) and waits for its <c>connected</c> frame.</summary>
    public async Task<ChatSocket> ConnectAsync(ClusterUser user)
    {
        var socket = await OpenAsync(user);
        var connected = await socket.ExpectAsync("connected");
        Assert.That(connected.Str("username"), Is.EqualTo(user.Username));
        return socket;
    }

    /// <summary>Opens a WebSocket as <paramref name="user"/> without reading anything from it.</summary>
    public async Task<ChatSocket> OpenAsync(ClusterUser user)
    {
        var client = new ClientWebSocket();
        client.Options.SetRequestHeader("Authorization", $"Bearer {user.Token}");
        var uri = new UriBuilder(new Uri(BaseAddress, "ws")) { Scheme = "ws" }.Uri;
        await client.ConnectAsync(uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return new ChatSocket(client);
    }

    /// <summary>POST /api/messages as <paramref name="sender"/>; asserts 201 and returns the receipt.</summary>
    public async Task<JsonObject> SendAsync(ClusterUser sender, string receiver, string message, string? clientMsgId = null)
    {
        var (status, body) = await TrySendAsync(sender, receiver, message, clientMsgId);
        Assert.That(status, Is.EqualTo(201), $"send through {Name}: {body.ToJsonString()}");
        return body;
    }

    /// <summary>POST /api/messages as <paramref name="sender"/>; the status and body, whatever they are.</summary>
    public async Task<(int Status, JsonObject Body)> TrySendAsync(ClusterUser sender, string receiver, string message, string? clientMsgId = null)
    {
        var body = new JsonObject { ["receiver"] = receiver, ["message"] = message };
        if (clientMsgId is not null) body["client_msg_id"] = clientMsgId;
        return await PostAsync(sender, "/api/messages", body);
    }

    /// <summary>POST of a JSON body as <paramref name="user"/>; the status and body (an empty object when there is none).</summary>
    public async Task<(int Status, JsonObject Body)> PostAsync(ClusterUser user, string path, JsonObject? body)
    {
        using var client = CreateClient(user.Token);
        var response = body is null ? await client.PostAsync(path, null) : await client.PostAsJsonAsync(path, body);
        return ((int)response.StatusCode, await ReadBodyAsync(response));
    }

    /// <summary>PATCH /api/users/me as <paramref name="user"/>; asserts 200 and returns the user object.</summary>
    public async Task<JsonObject> PatchProfileAsync(ClusterUser user, JsonObject changes)
    {
        using var client = CreateClient(user.Token);
        var response = await client.PatchAsJsonAsync("/api/users/me", changes);
        var json = await ReadBodyAsync(response);
        Assert.That((int)response.StatusCode, Is.EqualTo(200), $"PATCH /api/users/me through {Name}: {json.ToJsonString()}");
        return json;
    }

    /// <summary>GET as <paramref name="user"/>; asserts 200 and returns the body.</summary>
    public async Task<JsonObject> GetAsync(ClusterUser user, string path)
    {
        using var client = CreateClient(user.Token);
        var response = await client.GetAsync(path);
        var json = await ReadBodyAsync(response);
        Assert.That((int)response.StatusCode, Is.EqualTo(200), $"GET {path} through {Name}: {json.ToJsonString()}");
        return json;
    }

    /// <summary>Every message of a conversation, oldest first, through this endpoint's history API.</summary>
    public async Task<List<JsonObject>> HistoryAsync(ClusterUser user, long conversationId)
    {
        var all = new List<JsonObject>();
        long? before = null;
        while (true)
        {
            var page = (await GetAsync(user, $"/api/conversations/{conversationId}/messages?limit=200{(before is null ? "" : $"&before={before}")}"))["messages"]!
                .AsArray().Select(m => m!.AsObject()).ToList();
            if (page.Count == 0) return all;
            all.InsertRange(0, page);
            before = page[0].Long("message_id");
        }
    }

    private static async Task<JsonObject> ReadBodyAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return string.IsNullOrWhiteSpace(text) ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject { ["body"] = text };
    }
}
