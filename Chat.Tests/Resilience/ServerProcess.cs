using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Resilience;

/// <summary>
/// The real server as a child process (<c>dotnet Chat.Server.dll</c>, copied next to the test assembly by the
/// project reference) on a free loopback port and a given SQLite file or PostgreSQL connection string: start, wait for <c>/healthz</c>,
/// SIGKILL, SIGTERM, and the captured console output for failure messages.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _error = new();

    private ServerProcess(Process process, Uri baseAddress, string databasePath)
    {
        _process = process;
        BaseAddress = baseAddress;
        DatabasePath = databasePath;
    }

    public Uri BaseAddress { get; }
    public string DatabasePath { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>What the process wrote to stderr alone so far.</summary>
    public string StandardError
    {
        get { lock (_error) return _error.ToString(); }
    }

    public static Task<ServerProcess> StartAsync(string databasePath, params string[] extraArgs) =>
        StartAsync(databasePath, new ServerProcessOptions(), extraArgs);

    /// <summary>
    /// Starts the server as <paramref name="options"/> say (working directory, environment, whether to wait for
    /// <c>/healthz</c>). <paramref name="extraArgs"/> come last, so they override the defaults (the last
    /// <c>--urls</c> wins).
    /// </summary>
    public static async Task<ServerProcess> StartAsync(string databasePath, ServerProcessOptions options, params string[] extraArgs)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Chat.Server.dll");
        Assert.That(File.Exists(dll), Is.True, $"{dll} is missing: the test project must reference Chat.Server.");
        var port = FreePort();
        var info = new ProcessStartInfo(options.OpenFileLimit is null ? DotnetHost() : "prlimit")
        {
            WorkingDirectory = options.WorkingDirectory ?? AppContext.BaseDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in options.Environment)
            info.Environment[name] = value;
        if (options.OpenFileLimit is { } files)
            foreach (var arg in new[] { $"--nofile={files}:{files}", "--", DotnetHost() }) info.ArgumentList.Add(arg);
        foreach (var arg in new[]
                 {
                     dll, "--urls", $"http://127.0.0.1:{port}",
                     "--Chat:RateLimit:MessagesPerSecond=0",
                 }.Concat(ChatApp.IsPostgres(databasePath)
                     ? ["--Chat:Database:Provider=Postgres", $"--ConnectionStrings:Chat={databasePath}"]
                     : [$"--ConnectionStrings:Chat=Data Source={databasePath}"]).Concat(extraArgs))
            info.ArgumentList.Add(arg);

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}/"), databasePath);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            server.Append(e.Data);
            if (e.Data is not null) lock (server._error) server._error.AppendLine(e.Data);
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (options.WaitUntilHealthy) await server.WaitHealthyAsync(TimeSpan.FromSeconds(60));
        return server;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    /// <summary>Runs <c>dotnet Chat.Server.dll ARGS</c> to its end (at most 60 s); returns its exit code and stdout + stderr.</summary>
    public static async Task<(int Exit, string Output)> RunCommandAsync(params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Chat.Server.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await output + await error);
    }

    internal static string DotnetHost()
    {
        var fromSdk = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(fromSdk) && File.Exists(fromSdk)) return fromSdk;
        var self = Environment.ProcessPath;
        if (self is not null && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return "dotnet";
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private async Task WaitHealthyAsync(TimeSpan timeout)
    {
        using var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
                Assert.Fail($"The server process exited with code {_process.ExitCode} before /healthz answered.\n{Output}");
            try
            {
                var response = await client.GetAsync("/healthz");
                if (response.StatusCode == HttpStatusCode.OK) return;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // not listening yet
            }
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"The server process did not answer /healthz 200 within {timeout.TotalSeconds}s.\n{Output}");
            await Task.Delay(100);
        }
    }

    public HttpClient CreateClient(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null) client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    /// <summary>Registers a user over HTTP and returns its token.</summary>
    public async Task<string> RegisterAsync(string username, string password = "password123")
    {
        using var client = CreateClient();
        var response = await client.PostAsJsonAsync("/api/auth/register", new JsonObject { ["username"] = username, ["password"] = password });
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), json?.ToJsonString());
        return json!["token"]!.GetValue<string>();
    }

    /// <summary>Logs in over HTTP (after a restart the old token still works, but this checks the users survived).</summary>
    public async Task<string> LoginAsync(string username, string password = "password123")
    {
        using var client = CreateClient();
        var response = await client.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = username, ["password"] = password });
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), json?.ToJsonString());
        return json!["token"]!.GetValue<string>();
    }

    public async Task<ChatSocket> ConnectAsync(string token)
    {
        var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        var uri = new UriBuilder(new Uri(BaseAddress, "ws")) { Scheme = "ws" }.Uri;
        await socket.ConnectAsync(uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        return new ChatSocket(socket);
    }

    /// <summary>SIGKILL: no shutdown code runs.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM (Process has no API for it): the host's graceful shutdown runs.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString() }, UseShellExecute = false })!;
        await kill.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(kill.ExitCode, Is.Zero, "kill -TERM failed");
    }

    /// <summary>True when the process exited within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception)
        {
            // best effort
        }
        _process.Dispose();
    }
}

/// <summary>How <see cref="ServerProcess"/> launches the child.</summary>
public sealed record ServerProcessOptions
{
    /// <summary>The child's working directory; null is the test output folder (where Chat.Server.dll is).</summary>
    public string? WorkingDirectory { get; init; }

    /// <summary>Extra environment variables for the child (e.g. <c>Chat__MaxMessageLength</c>).</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Wait for <c>/healthz</c> 200 before returning (false: return at once, e.g. to watch it fail).</summary>
    public bool WaitUntilHealthy { get; init; } = true;

    /// <summary>The child's open-file limit (soft and hard, set with util-linux <c>prlimit</c>); null keeps this process's.</summary>
    public int? OpenFileLimit { get; init; }
}
