using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// A throw-away Redis for the cluster tests (Debian's <c>redis-server</c>): listening on 127.0.0.1 only, on a free port,
/// in a temporary directory, with no persistence (<c>--save "" --appendonly no</c>), so a restart starts empty as a
/// backplane outage would leave it. <see cref="StopAsync"/>, <see cref="Kill"/> and <see cref="StartAsync()"/> again
/// on the same port let a test take Redis away mid-stream and bring it back where the nodes look for it.
/// Every instance still running when the test run ends is killed (<see cref="TestRunCleanup"/>).
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    /// <summary>Where Debian's package puts the server.</summary>
    public const string Executable = "/usr/bin/redis-server";

    private static readonly ConcurrentDictionary<RedisServer, byte> Running = new();
    private readonly string _directory;
    private Process? _process;

    private RedisServer(int port, string directory)
    {
        Port = port;
        _directory = directory;
    }

    /// <summary>Null when Redis can run here; else the one-line reason the cluster tests are skipped.</summary>
    public static string? UnavailableReason =>
        File.Exists(Executable) ? null : "redis-server not installed (apt-get install redis-server): cluster tests skipped.";

    /// <summary>The TCP port, the same across restarts.</summary>
    public int Port { get; }

    /// <summary>The StackExchange.Redis configuration string a node takes as <c>ConnectionStrings:Redis</c>.</summary>
    public string ConfigurationString => $"127.0.0.1:{Port}";

    /// <summary>True while the process runs.</summary>
    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a new Redis on a free port and waits until it answers PING.</summary>
    public static async Task<RedisServer> StartNewAsync()
    {
        if (UnavailableReason is { } reason) throw new InvalidOperationException(reason);
        var directory = Path.Combine(Path.GetTempPath(), $"chat-tests-redis-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var server = new RedisServer(FreePort(), directory);
        await server.StartAsync();
        return server;
    }

    /// <summary>(Re)starts the process on <see cref="Port"/> and waits until it answers PING.</summary>
    public async Task StartAsync()
    {
        if (IsRunning) return;
        var info = new ProcessStartInfo(Executable)
        {
            WorkingDirectory = _directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
                 {
                     "--port", Port.ToString(), "--bind", "127.0.0.1", "--dir", _directory,
                     "--save", "", "--appendonly", "no", "--daemonize", "no", "--protected-mode", "yes",
                     "--logfile", Path.Combine(_directory, "redis.log"),
                 })
            info.ArgumentList.Add(arg);
        _process = Process.Start(info)!;
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        Running[this] = 0;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!await PingAsync())
        {
            if (_process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"redis-server did not start on port {Port}: {Log}");
            await Task.Delay(50);
        }
    }

    /// <summary>Stops the process the way an operator would (SIGTERM; nothing is saved) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-TERM", _process.Id.ToString() }, UseShellExecute = false })!;
            await kill.WaitForExitAsync();
            try { await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (TimeoutException) { _process.Kill(); await _process.WaitForExitAsync(); }
        }
        _process.Dispose();
        _process = null;
        Running.TryRemove(this, out _);
    }

    /// <summary>SIGKILL: the connections drop without a word, as when the Redis machine dies.</summary>
    /// <summary>Freezes the process (SIGSTOP): connections stay open and nothing answers, as in a network partition.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>Lets a paused process go on (SIGCONT).</summary>
    public void Resume() => Signal("-CONT");

    private void Signal(string signal)
    {
        if (_process is null || _process.HasExited) return;
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { signal, _process.Id.ToString() }, UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public void Kill()
    {
        if (_process is null) return;
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
        _process.Dispose();
        _process = null;
        Running.TryRemove(this, out _);
    }

    /// <summary>Stops and starts again on the same port (empty: nothing was persisted).</summary>
    public async Task RestartAsync()
    {
        await StopAsync();
        await StartAsync();
    }

    /// <summary>True when a RESP <c>PING</c> on <see cref="Port"/> is answered <c>+PONG</c>.</summary>
    public async Task<bool> PingAsync()
    {
        try
        {
            using var client = new TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await client.ConnectAsync(IPAddress.Loopback, Port, cts.Token);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray(), cts.Token);
            var buffer = new byte[16];
            var read = await stream.ReadAsync(buffer, cts.Token);
            return Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>The server's log so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            try { return File.ReadAllText(Path.Combine(_directory, "redis.log")); }
            catch (IOException) { return ""; }
        }
    }

    /// <summary>Kills every instance still running (end of the test run).</summary>
    public static void KillAll()
    {
        foreach (var server in Running.Keys) server.Kill();
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return ValueTask.CompletedTask;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
