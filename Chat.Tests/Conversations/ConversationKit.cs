using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Server.Realtime;
using Chat.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.Conversations;

/// <summary>An HTTP answer kept whole, so tests can check status, problem details and headers.</summary>
internal sealed record HttpAnswer(int Status, JsonObject? Json, string? ContentType, HttpResponseHeaders Headers)
{
    public string? Code => Json?["code"]?.GetValue<string>();
}

/// <summary>Small helpers shared by the conversation tests.</summary>
internal static class ConversationKit
{
    public static long UnixNow() => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    public static JsonObject SendFrame(string receiver, string message, string? clientMsgId = null)
    {
        var frame = new JsonObject { ["type"] = "send_message", ["receiver"] = receiver, ["message"] = message };
        if (clientMsgId is not null) frame["client_msg_id"] = clientMsgId;
        return frame;
    }

    public static JsonObject MarkReadFrame(long conversationId, long? upTo = null)
    {
        var frame = new JsonObject { ["type"] = "mark_read", ["conversation_id"] = conversationId };
        if (upTo is not null) frame["up_to_message_id"] = upTo;
        return frame;
    }

    public static JsonObject TypingFrame(string receiver) => new() { ["type"] = "typing", ["receiver"] = receiver };

    public static JsonObject SyncFrame(long after, int? limit = null)
    {
        var frame = new JsonObject { ["type"] = "sync", ["after_message_id"] = after };
        if (limit is not null) frame["limit"] = limit;
        return frame;
    }

    /// <summary>Opens a socket and takes its <c>connected</c> frame.</summary>
    public static async Task<ChatSocket> OpenAsync(TestUser user)
    {
        var socket = await user.ConnectAsync();
        await socket.ExpectAsync("connected");
        return socket;
    }

    private static async Task<HttpAnswer> ReadAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length > 0 ? JsonNode.Parse(text) as JsonObject : null;
        return new HttpAnswer((int)response.StatusCode, json, response.Content.Headers.ContentType?.MediaType, response.Headers);
    }

    public static async Task<HttpAnswer> GetRawAsync(TestUser user, string path)
    {
        using var client = user.Client();
        using var response = await client.GetAsync(path);
        return await ReadAsync(response);
    }

    public static async Task<HttpAnswer> PostRawAsync(TestUser user, string path, JsonObject? body)
    {
        using var client = user.Client();
        using var content = body is null ? null : new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(path, content);
        return await ReadAsync(response);
    }

    public static Task<HttpAnswer> SendRawAsync(TestUser user, string receiver, string message, string? clientMsgId = null)
    {
        var body = new JsonObject { ["receiver"] = receiver, ["message"] = message };
        if (clientMsgId is not null) body["client_msg_id"] = clientMsgId;
        return PostRawAsync(user, "/api/messages", body);
    }

    public static async Task<List<JsonObject>> ConversationsAsync(TestUser user, string query = "")
    {
        var json = await user.GetAsync("/api/conversations" + query);
        return json["conversations"]!.AsArray().Select(c => c!.AsObject()).ToList();
    }

    public static async Task<JsonObject> ConversationAsync(TestUser user, long conversationId) =>
        (await ConversationsAsync(user)).Single(c => c.Long("conversation_id") == conversationId);

    public static async Task<List<JsonObject>> HistoryAsync(TestUser user, long conversationId, string query = "")
    {
        var json = await user.GetAsync($"/api/conversations/{conversationId}/messages{query}");
        return json["messages"]!.AsArray().Select(m => m!.AsObject()).ToList();
    }

    public static async Task<JsonObject> MarkReadAsync(TestUser user, long conversationId, long? upTo = null)
    {
        var body = new JsonObject();
        if (upTo is not null) body["up_to_message_id"] = upTo;
        var answer = await PostRawAsync(user, $"/api/conversations/{conversationId}/read", body);
        Assert.That(answer.Status, Is.EqualTo(200), answer.Json?.ToJsonString());
        return answer.Json!;
    }

    public static void AssertProblem(HttpAnswer answer, int status, string code)
    {
        Assert.Multiple(() =>
        {
            Assert.That(answer.Status, Is.EqualTo(status), answer.Json?.ToJsonString());
            Assert.That(answer.ContentType, Is.EqualTo("application/problem+json"));
            Assert.That(answer.Code, Is.EqualTo(code), answer.Json?.ToJsonString());
            Assert.That(answer.Json?["status"]?.GetValue<int>(), Is.EqualTo(status));
        });
    }

    public static List<long> Ids(IEnumerable<JsonObject> messages) => messages.Select(m => m.Long("message_id")).ToList();

    /// <summary>Frames of the given types among <paramref name="frames"/>.</summary>
    public static List<JsonObject> OfType(IEnumerable<JsonObject> frames, params string[] types) =>
        frames.Where(f => types.Contains(f.Type())).ToList();

    /// <summary>The next frame whose type is not <c>presence</c> (presence may interleave where its order is not specified).</summary>
    public static async Task<JsonObject> ExpectSkippingPresenceAsync(ChatSocket socket, string type)
    {
        while (true)
        {
            var frame = await socket.NextAsync();
            if (frame.Type() == "presence") continue;
            Assert.That(frame.Type(), Is.EqualTo(type), $"expected a '{type}' frame, got {frame.ToJsonString()}");
            return frame;
        }
    }

    /// <summary>Number of sockets the server has registered for a user.</summary>
    public static int OpenSockets(ChatApp app, string username) =>
        app.Services.GetRequiredService<ConnectionRegistry>().All().Count(c => string.Equals(c.Username, username, StringComparison.OrdinalIgnoreCase));

    /// <summary>Waits until the server has registered exactly <paramref name="count"/> sockets for a user.</summary>
    public static async Task WaitForOpenSocketsAsync(ChatApp app, string username, int count)
    {
        var deadline = DateTime.UtcNow + ChatSocket.DefaultTimeout;
        while (OpenSockets(app, username) != count)
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"{username} still has {OpenSockets(app, username)} sockets registered, expected {count}.");
            await Task.Delay(10);
        }
    }

    /// <summary>Sends each frame on the socket in turn without waiting for any answer.</summary>
    public static async Task FireAsync(ChatSocket socket, IEnumerable<JsonObject> frames)
    {
        foreach (var frame in frames) await socket.SendAsync(frame);
    }

    /// <summary>Collects frames until <paramref name="done"/> says the collection is complete.</summary>
    public static async Task<List<JsonObject>> CollectAsync(ChatSocket socket, Func<List<JsonObject>, bool> done, TimeSpan? timeout = null)
    {
        var frames = new List<JsonObject>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (!done(frames))
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"Collection incomplete after {frames.Count} frames: {string.Join(", ", frames.Select(f => f.Type()).Distinct())}");
            frames.Add(await socket.NextAsync(left));
        }
        return frames;
    }
}
