using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Hardening;

namespace Chat.Tests.Resilience;

/// <summary>
/// No log line at any level contains a token, whatever the working directory and however an operator raises the
/// log levels: the real process, started as a service unit starts it (<c>dotnet Chat.Server.dll</c> from another
/// folder), logging everything at Trace, is sent tokens every way a client can (good, unknown and revoked; in
/// <c>?token=</c> and in <c>Authorization</c>; on <c>/ws</c> over the fast path and the pipeline, as a plain
/// HTTP GET, on an HTTP endpoint, and in requests Kestrel itself rejects), and its output is searched for them.
/// </summary>
[TestFixture]
public sealed class LogSecrecyTests
{
    private string _workingDirectory = null!;

    [SetUp]
    public void SetUp()
    {
        _workingDirectory = Path.Combine(Path.GetTempPath(), "chat-tests", $"cwd-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_workingDirectory);
    }

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try { Directory.Delete(_workingDirectory, recursive: true); } catch (IOException) { }
    }

    [Test]
    public async Task NoTokenIsLoggedAtTraceFromAForeignWorkingDirectory()
    {
        var options = new ServerProcessOptions
        {
            WorkingDirectory = _workingDirectory,
            // Provider-specific levels beat category levels: an operator who raises everything everywhere.
            Environment = new Dictionary<string, string> { ["Logging__Console__LogLevel__Default"] = "Trace" },
        };
        await using var server = await ServerProcess.StartAsync(Path.Combine(_workingDirectory, "chat.db"), options,
            "--Logging:LogLevel:Default=Trace",
            "--Logging:LogLevel:Microsoft=Trace",
            "--Logging:LogLevel:Microsoft.AspNetCore=Trace",
            "--Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Trace",
            "--Logging:LogLevel:Microsoft.AspNetCore.Server.Kestrel.BadRequests=Trace",
            "--Logging:Console:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics=Trace");

        var good = await server.RegisterAsync("log_alice");
        var other = await server.RegisterAsync("log_bob");
        var revoked = await server.LoginAsync("log_bob");
        using (var logout = server.CreateClient(revoked))
            Assert.That((int)(await logout.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(204));
        var unknown = Convert.ToBase64String(Guid.NewGuid().ToByteArray().Concat(Guid.NewGuid().ToByteArray()).ToArray())
            .TrimEnd('=').Replace('+', '-').Replace('/', '_');
        string[] secrets = [good, other, revoked, unknown];

        // Over HttpClient: a query token on an HTTP endpoint (refused), bearer tokens (good, unknown, revoked).
        using (var anonymous = server.CreateClient())
        {
            foreach (var token in secrets)
                Assert.That((int)(await anonymous.GetAsync($"/api/users/me?token={token}")).StatusCode, Is.EqualTo(401));
            foreach (var token in secrets)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/users/me") { Headers = { Authorization = new("Bearer", token) } };
                Assert.That((int)(await anonymous.SendAsync(request)).StatusCode, Is.EqualTo(token == good || token == other ? 200 : 401));
            }
            using var login = await anonymous.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = "log_alice", ["password"] = "password123" });
            Assert.That((int)login.StatusCode, Is.EqualTo(200));
        }

        // WebSocket upgrades: query and header, on the fast path (one write) and through the pipeline (split head).
        await using (var viaHeader = await server.ConnectAsync(good))
            await viaHeader.ExpectAsync("connected");
        foreach (var token in secrets)
        {
            var expected = token == good || token == other ? 101 : 401;
            Assert.That(await UpgradeAsync(server.BaseAddress, $"/ws?token={token}", null, split: false), Is.EqualTo(expected), "query, fast path");
            Assert.That(await UpgradeAsync(server.BaseAddress, $"/ws?token={token}", null, split: true), Is.EqualTo(expected), "query, pipeline");
            Assert.That(await UpgradeAsync(server.BaseAddress, "/ws", $"Bearer {token}", split: true), Is.EqualTo(expected), "header, pipeline");
            // A plain GET to /ws is 400 whatever the token.
            Assert.That((await RawHttpAnswer.SendAsync(server.BaseAddress, "GET", $"/ws?token={token}")).Status, Is.EqualTo(400));
        }

        // Requests Kestrel rejects itself, quoting the offending line in its debug log: a bad request line, a bad
        // target, a bad header line.
        foreach (var token in new[] { good, unknown })
        {
            Assert.That((await RawHttpAnswer.SendAsync(server.BaseAddress, "GET", $"/ws?token={token} x")).Status, Is.EqualTo(400));
            Assert.That((await RawHttpAnswer.SendAsync(server.BaseAddress, "GET", $"/ws?token={token}\u0001")).Status, Is.EqualTo(400));
            Assert.That((await RawHttpAnswer.SendAsync(server.BaseAddress, "GET", "/ws", $"Authorization : Bearer {token}")).Status, Is.EqualTo(400));
        }

        // Stop gracefully so the console logger flushes everything it queued.
        await server.TerminateAsync();
        Assert.That(await server.WaitForExitAsync(TimeSpan.FromSeconds(30)), Is.True, "the server stops on SIGTERM");
        await Task.Delay(200);
        var output = server.Output;

        Assert.Multiple(() =>
        {
            foreach (var token in secrets)
                Assert.That(output.Contains(token, StringComparison.Ordinal), Is.False, $"a token appears in the log:\n{Excerpt(output, token)}");
            // Not a vacuous pass: Trace reached the framework, requests were logged (query redacted), and the content
            // root is the application folder, so its appsettings.json was read.
            Assert.That(output, Does.Contain("trce: Microsoft.AspNetCore"), "framework Trace logging is on");
            Assert.That(output, Does.Contain("/api/users/me"), "requests are logged");
            Assert.That(output, Does.Contain("token=[Redacted]"), "the request log shows the query with its values redacted");
            Assert.That(output, Does.Contain($"Content root path: {AppContext.BaseDirectory.TrimEnd('/')}"), "content root is the application folder");
        });
    }

    /// <summary>Sends a WebSocket upgrade over raw TCP (head in one write or two) and returns the answer's status.</summary>
    private static async Task<int> UpgradeAsync(Uri server, string target, string? authorization, bool split)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(server.Host, server.Port);
        var stream = tcp.GetStream();
        var head = Encoding.ASCII.GetBytes(
            $"GET {target} HTTP/1.1\r\nHost: {server.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
            (authorization is null ? "" : $"Authorization: {authorization}\r\n") + "\r\n");
        if (split)
        {
            await stream.WriteAsync(head.AsMemory(0, 10));
            await Task.Delay(100);
            await stream.WriteAsync(head.AsMemory(10));
        }
        else
        {
            await stream.WriteAsync(head);
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new List<byte>();
        var buffer = new byte[4096];
        while (!Encoding.Latin1.GetString(received.ToArray()).Contains("\r\n\r\n"))
        {
            var n = await stream.ReadAsync(buffer, timeout.Token);
            if (n == 0) break;
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        var status = Encoding.Latin1.GetString(received.ToArray()).Split(' ');
        return status.Length > 1 && int.TryParse(status[1], out var code) ? code : (int)HttpStatusCode.InternalServerError;
    }

    private static string Excerpt(string output, string token)
    {
        var at = output.IndexOf(token, StringComparison.Ordinal);
        return at < 0 ? "" : output[Math.Max(0, at - 300)..Math.Min(output.Length, at + token.Length + 100)];
    }
}
