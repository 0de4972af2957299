using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Operations;

/// <summary>
/// The documented TLS proxy (<c>docs/nginx/chat-tls.conf</c>, as docs/operations.md tells an operator to run it) with
/// Debian's nginx and a self-signed certificate in front of a real Kestrel node: https and wss work end to end, a page
/// served through the proxy may open sockets (its Origin matches) and one of another origin may not, plain http is
/// redirected, browsers are told to stay on https, and <c>/metrics</c> is not served to the internet.
/// </summary>
[TestFixture]
public sealed class TlsProxyTests : ServerPerTest
{
    private string _directory = null!;
    private X509Certificate2 _certificate = null!;
    private NginxServer? _nginx;
    private ChatApp _node = null!;
    private int _httpPort;

    private static string? UnavailableReason =>
        NginxServer.UnavailableReason?.Replace("cluster tests skipped", "TLS proxy tests skipped")
        ?? (File.Exists("/usr/bin/openssl") ? null : "openssl not installed (apt-get install openssl): TLS proxy tests skipped.");

    [SetUp]
    public async Task SetUp()
    {
        if (UnavailableReason is { } reason) Assert.Ignore(reason);
        _directory = Path.Combine(Path.GetTempPath(), $"chat-tests-tls-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
        var cert = Path.Combine(_directory, "cert.pem");
        var key = Path.Combine(_directory, "key.pem");
        await RunAsync("/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost");
        _certificate = X509Certificate2.CreateFromPem(await File.ReadAllTextAsync(cert));

        _node = await StartServerAsync(Transport.Kestrel, new() { ["Chat:ForwardedHeaders:KnownProxies"] = "127.0.0.1" });
        _httpPort = NginxServer.FreePort();
        _nginx = await NginxServer.StartAsync([_node.BaseAddress], NginxServer.DocumentedConfig("chat-tls.conf"), new Dictionary<string, string>
        {
            ["CHAT_HTTP_LISTEN"] = $"127.0.0.1:{_httpPort}",
            ["CHAT_SERVER_NAME"] = "localhost",
            ["CHAT_CERT"] = cert,
            ["CHAT_KEY"] = key,
        });
    }

    [TearDown]
    public async Task TearDown()
    {
        if (_nginx is not null) await _nginx.DisposeAsync();
        _nginx = null;
        _certificate?.Dispose();
        if (_directory is not null && Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    private Uri Https => new($"https://127.0.0.1:{_nginx!.Port}/");

    /// <summary>Trusts exactly this test's certificate, as a client that installed it would.</summary>
    private bool IsOurCertificate(X509Certificate? presented) =>
        presented is not null && presented.GetCertHashString() == _certificate.GetCertHashString();

    private HttpClient Client(bool followRedirects = true) => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = followRedirects,
        SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => IsOurCertificate(certificate) },
    }) { BaseAddress = Https, Timeout = TimeSpan.FromSeconds(30) };

    private async Task<ChatSocket> ConnectAsync(string token, string? origin)
    {
        var socket = new ClientWebSocket();
        socket.Options.RemoteCertificateValidationCallback = (_, certificate, _, _) => IsOurCertificate(certificate);
        socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        if (origin is not null) socket.Options.SetRequestHeader("Origin", origin);
        await socket.ConnectAsync(new Uri($"wss://127.0.0.1:{_nginx!.Port}/ws"), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return new ChatSocket(socket);
    }

    [Test]
    public async Task HttpsAndWssCarryTheSeedScenarioThroughTheProxy()
    {
        using var client = Client();
        var purna = await client.RegisterAsync("purnaacharya", "Purna Acharya", null, "password123");
        var sishir = await client.RegisterAsync("sishirbhusal", "Sishir Bhusal", null, "password123");

        // As the web client served through the proxy does: its page's origin is the proxy's.
        await using var socket = await ConnectAsync(purna, origin: $"https://127.0.0.1:{_nginx!.Port}");
        await socket.ExpectAsync("connected");

        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/messages") { Content = JsonContent.Create(new { receiver = "purnaacharya", message = "Hello" }) };
        request.Headers.Authorization = new("Bearer", sishir);
        var sent = await client.SendAsync(request);
        Assert.That(sent.StatusCode, Is.EqualTo(HttpStatusCode.Created), await sent.Content.ReadAsStringAsync());

        var frame = await socket.ExpectAsync("chat_message");
        Assert.That(frame.Str("message"), Is.EqualTo("Hello"));
        await socket.ExpectAsync("conversation_refresh");
        Assert.That(_nginx.ErrorLog, Does.Not.Contain("[error]"), "nginx logged an error");
    }

    [Test]
    public async Task APageOfAnotherOriginIsRefusedThroughTheProxyToo()
    {
        using var client = Client();
        var token = await client.RegisterAsync("tls_origin", null, null, "password123");

        var refused = Assert.ThrowsAsync<WebSocketException>(async () => await ConnectAsync(token, origin: "https://evil.example"));
        Assert.That(refused!.Message, Does.Contain("403"));
    }

    [Test]
    public async Task PlainHttpIsRedirectedToHttps()
    {
        using var plain = new HttpClient(new SocketsHttpHandler { AllowAutoRedirect = false });
        var answer = await plain.GetAsync($"http://127.0.0.1:{_httpPort}/api/users/me?x=1");

        Assert.That((int)answer.StatusCode, Is.EqualTo(301));
        Assert.That(answer.Headers.Location?.ToString(), Is.EqualTo("https://127.0.0.1/api/users/me?x=1"));
    }

    [Test]
    public async Task TheWebClientAndReadinessAnswerOverHttpsAndBrowsersAreToldToStayOnIt()
    {
        using var client = Client();
        var page = await client.GetAsync("/");
        Assert.That(page.StatusCode, Is.EqualTo(HttpStatusCode.OK));
        Assert.That(page.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/html"));
        Assert.That(page.Headers.GetValues("Strict-Transport-Security").Single(), Does.StartWith("max-age="));
        Assert.That((await client.GetAsync("/healthz/ready")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "readiness through the proxy");
    }

    [Test]
    public async Task MetricsAreNotServedThroughTheProxy()
    {
        using var client = Client();
        Assert.That((await _node.CreateClient().GetAsync("/metrics")).StatusCode, Is.EqualTo(HttpStatusCode.OK), "the node serves them on its own address");
        // The node matches paths ignoring case: every spelling must stop at the proxy.
        foreach (var path in new[] { "/metrics", "/METRICS", "/Metrics", "/metrics/", "/%6Detrics" })
        {
            var answer = await client.GetAsync(path);
            Assert.That(answer.StatusCode, Is.EqualTo(HttpStatusCode.NotFound), path);
            Assert.That(await answer.Content.ReadAsStringAsync(), Does.Not.Contain("# TYPE"), path);
        }
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        Assert.That(process.ExitCode, Is.Zero, $"{program} failed: {await output}{await error}");
    }
}
