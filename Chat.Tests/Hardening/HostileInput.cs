using Chat.Tests.Infrastructure;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;

namespace Chat.Tests.Hardening;

/// <summary>Small helpers shared by the hardening tests: problem-details checks, raw HTTP, direct database reads.</summary>
internal static class HostileInput
{
    /// <summary>The fuzz seed: <c>CHAT_FUZZ_SEED</c> when set (to replay a CI failure), else a fixed default.</summary>
    public static int FuzzSeed(int @default) =>
        int.TryParse(Environment.GetEnvironmentVariable("CHAT_FUZZ_SEED"), out var seed) ? seed : @default;

    /// <summary>Asserts an RFC 9457 answer: the status, <c>application/problem+json</c> and the contract's <c>code</c>.</summary>
    public static async Task<JsonObject> AssertProblemAsync(HttpResponseMessage response, int status, string code, string what) =>
        AssertProblem((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync(), status, code, what);

    /// <summary>The same check for an answer read off a raw connection.</summary>
    public static JsonObject AssertProblem(RawHttpAnswer answer, int status, string code, string what) =>
        AssertProblem(answer.Status, answer.Header("Content-Type")?.Split(';')[0].Trim(), answer.Body, status, code, what);

    private static JsonObject AssertProblem(int actualStatus, string? mediaType, string text, int status, string code, string what)
    {
        Assert.That(actualStatus, Is.EqualTo(status), $"{what}: {text}");
        Assert.That(mediaType, Is.EqualTo("application/problem+json"), $"{what}: {text}");
        var body = JsonNode.Parse(text)!.AsObject();
        Assert.That(body["code"]?.GetValue<string>(), Is.EqualTo(code), $"{what}: {text}");
        Assert.That(body["status"]?.GetValue<int>(), Is.EqualTo(status), $"{what}: {text}");
        return body;
    }

    /// <summary>A body compared for "no existence hint": the per-request trace id is the only thing allowed to differ.</summary>
    public static JsonObject WithoutTraceId(JsonObject body)
    {
        var copy = body.DeepClone().AsObject();
        copy.Remove("trace_id");
        copy.Remove("traceId");
        return copy;
    }

    public static HttpContent Json(string text, string mediaType = "application/json") =>
        new ByteArrayContent(Encoding.UTF8.GetBytes(text)) { Headers = { ContentType = new MediaTypeHeaderValue(mediaType) } };

    /// <summary>Every message row, read straight from the server's database (not through the server; either store).</summary>
    public static Dictionary<long, string> MessagesInDatabase(ChatApp app)
    {
        using var connection = app.OpenDatabase();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, body FROM messages";
        using var reader = command.ExecuteReader();
        var rows = new Dictionary<long, string>();
        while (reader.Read()) rows[reader.GetInt64(0)] = reader.GetString(1);
        return rows;
    }

    /// <summary>Rows in <paramref name="table"/> of the server's database, read directly (either store).</summary>
    public static long Count(ChatApp app, string table)
    {
        using var connection = app.OpenDatabase();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {table}";
        return Convert.ToInt64(command.ExecuteScalar()!);
    }
}

/// <summary>A response read off a raw TCP connection, for requests HttpClient would rewrite (dot segments, upgrades).</summary>
internal sealed record RawHttpAnswer(int Status, string Headers, string Body)
{
    public string? Header(string name) => HeaderIn(Headers, name);

    /// <summary>The first value of header <paramref name="name"/> in a raw response head, or null.</summary>
    public static string? HeaderIn(string head, string name) => head.Split("\r\n")
        .Where(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))
        .Select(l => l[(name.Length + 1)..].Trim()).FirstOrDefault();

    /// <summary>Sends <paramref name="target"/> byte for byte (no normalisation) and reads the answer until the server closes or the body is complete.</summary>
    public static Task<RawHttpAnswer> SendAsync(Uri server, string method, string target, params string[] headers) =>
        SendAsync(server, method, target, ReadOnlyMemory<byte>.Empty, headers);

    /// <summary>
    /// As above, then writes <paramref name="body"/> as given (framing included) and only then reads. A test that must see a
    /// server's early refusal sends no byte past the point of refusal: bytes written after the server closes draw a reset,
    /// and HttpClient reports that broken pipe instead of the answer it was sent.
    /// </summary>
    public static async Task<RawHttpAnswer> SendAsync(Uri server, string method, string target, ReadOnlyMemory<byte> body, params string[] headers)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(server.Host, server.Port);
        var stream = tcp.GetStream();
        var request = new StringBuilder($"{method} {target} HTTP/1.1\r\nHost: {server.Authority}\r\n");
        foreach (var h in headers) request.Append(h).Append("\r\n");
        if (!headers.Any(h => h.StartsWith("Connection:", StringComparison.OrdinalIgnoreCase))) request.Append("Connection: close\r\n");
        request.Append("\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()));
        if (!body.IsEmpty) await stream.WriteAsync(body);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new MemoryStream();
        var buffer = new byte[8192];
        while (true)
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0) break;
            received.Write(buffer, 0, n);
            if (TryParse(received.ToArray(), complete: false) is not null) break;
        }
        return TryParse(received.ToArray(), complete: true) ?? throw new InvalidOperationException("No HTTP response.");
    }

    private static RawHttpAnswer? TryParse(byte[] data, bool complete)
    {
        var text = Encoding.UTF8.GetString(data);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0) return null;
        var head = text[..end];
        var status = int.Parse(head.Split(' ')[1]);
        var rest = text[(end + 4)..];
        var response = new RawHttpAnswer(status, head, rest);
        if (response.Header("Transfer-Encoding") is { } te && te.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            if (!rest.Contains("0\r\n\r\n", StringComparison.Ordinal) && !complete) return null;
            var body = new StringBuilder();
            var at = 0;
            while (at < rest.Length)
            {
                var line = rest.IndexOf("\r\n", at, StringComparison.Ordinal);
                if (line < 0) break;
                var size = Convert.ToInt32(rest[at..line].Split(';')[0], 16);
                if (size == 0) break;
                body.Append(rest.AsSpan(line + 2, Math.Min(size, rest.Length - line - 2)));
                at = line + 2 + size + 2;
            }
            return response with { Body = body.ToString() };
        }
        if (int.TryParse(response.Header("Content-Length"), out var length))
            return Encoding.UTF8.GetByteCount(rest) >= length || complete ? response : null;
        // 101 or a body delimited by the close.
        return status == 101 || complete ? response : null;
    }
}
