using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;

namespace Chat.Tests.Http;

/// <summary>Small shared helpers for the HTTP API tests: raw JSON requests and problem-details checks.</summary>
internal static class HttpApi
{
    public static readonly string[] AuthResponseKeys = ["token", "user"];
    public static readonly string[] ProblemMembers = ["status", "title", "detail", "code"];

    /// <summary>Sends <paramref name="json"/> verbatim (so malformed bodies and wrong types can be tested).</summary>
    public static Task<HttpResponseMessage> SendRawJsonAsync(this HttpClient client, HttpMethod method, string path, string json) =>
        client.SendAsync(new HttpRequestMessage(method, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") });

    public static Task<HttpResponseMessage> PostRawJsonAsync(this HttpClient client, string path, string json) =>
        client.SendRawJsonAsync(HttpMethod.Post, path, json);

    public static Task<HttpResponseMessage> PatchJsonAsync(this HttpClient client, string path, JsonObject body) =>
        client.SendRawJsonAsync(HttpMethod.Patch, path, body.ToJsonString());

    /// <summary>Registers a user (asserts 201, naming <paramref name="where"/> when it fails) and returns its token.</summary>
    public static async Task<string> RegisterAsync(this HttpClient client, string username, string? fullName, string? email, string password, string where = "")
    {
        var body = new JsonObject { ["username"] = username, ["password"] = password };
        if (fullName is not null) body["full_name"] = fullName;
        if (email is not null) body["email"] = email;
        var response = await client.PostAsJsonAsync("/api/auth/register", body);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), $"register {username}{where}: {json?.ToJsonString()}");
        return json!["token"]!.GetValue<string>();
    }

    public static async Task<JsonObject> JsonAsync(this HttpResponseMessage response, int expectedStatus)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(expectedStatus), text);
        return JsonNode.Parse(text)!.AsObject();
    }

    /// <summary>
    /// Asserts an RFC 9457 problem: status, <c>application/problem+json</c>, the members status/title/detail/code,
    /// and the contract's code. Returns the body.
    /// </summary>
    public static async Task<JsonObject> AssertProblemAsync(this HttpResponseMessage response, int status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(status), $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {text}");
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("application/problem+json"), text);
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.Multiple(() =>
        {
            foreach (var member in ProblemMembers) Assert.That(body.ContainsKey(member), Is.True, $"missing '{member}' in {text}");
            Assert.That(body["status"]?.GetValue<int>(), Is.EqualTo(status), text);
            Assert.That(body["code"]?.GetValue<string>(), Is.EqualTo(code), text);
            Assert.That(body["title"]?.GetValue<string>(), Is.Not.Empty, text);
            Assert.That(body["detail"]?.GetValue<string>(), Is.Not.Empty, text);
        });
        return body;
    }

    public static Task<HttpResponseMessage> RegisterRawAsync(this HttpClient client, string json) =>
        client.PostRawJsonAsync("/api/auth/register", json);

    public static Task<HttpResponseMessage> RegisterAsync(this HttpClient client, JsonObject body) =>
        client.PostAsJsonAsync("/api/auth/register", body);

    public static Task<HttpResponseMessage> LoginAsync(this HttpClient client, string username, string password) =>
        client.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = username, ["password"] = password });

    public static Task<HttpResponseMessage> SendMessageAsync(this HttpClient client, JsonObject body) =>
        client.PostAsJsonAsync("/api/messages", body);

    public static HttpContent Bytes(byte[] data, string contentType)
    {
        var content = new ByteArrayContent(data);
        content.Headers.ContentType = new(contentType);
        return content;
    }

    /// <summary>Image bodies that start with each format's real signature.</summary>
    public static class Images
    {
        public static byte[] Png(int extra = 8) => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, .. Filler(extra, 1)];
        public static byte[] Jpeg(int extra = 8) => [0xFF, 0xD8, 0xFF, 0xE0, .. Filler(extra, 2)];
        public static byte[] Gif(int extra = 8) => [.. "GIF89a"u8.ToArray(), .. Filler(extra, 3)];
        public static byte[] Webp(int extra = 8) => [.. "RIFF"u8.ToArray(), 0x20, 0, 0, 0, .. "WEBP"u8.ToArray(), .. "VP8 "u8.ToArray(), .. Filler(extra, 4)];

        private static byte[] Filler(int n, byte seed) => Enumerable.Range(0, n).Select(i => (byte)(i * 7 + seed)).ToArray();
    }
}
