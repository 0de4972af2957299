using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Chat.Server;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Bench;

/// <summary>
/// The server under test: a running one (<c>--url</c>), a separate <c>dotnet Chat.Server.dll</c> process
/// (the default: its memory and CPU are its own, read from /proc), or one hosted in this process
/// (<c>--in-process</c>: quicker to start, but RSS and heap then include the load generator).
/// </summary>
public sealed partial class ServerHandle : IAsyncDisposable
{
    private Process? _process;
    private WebApplication? _app;
    private string? _tempDir;
    private bool _keepDb;

    public required Uri BaseUri { get; init; }
    public required string Mode { get; init; }
    /// <summary>Server process id, or null when it is not on this machine's /proc (an external --url).</summary>
    public int? Pid { get; private init; }
    public string? DatabasePath { get; private init; }
    public IReadOnlyList<string> ServerArgs { get; private init; } = [];

    public Uri WsUri => new(BaseUri.ToString().Replace("http://", "ws://", StringComparison.Ordinal) + "ws");

    public long RssKiB => Pid is { } pid ? Machine.RssKiB(pid) : 0;
    public TimeSpan CpuTime => Pid is { } pid ? Machine.CpuTime(pid) : TimeSpan.Zero;

    /// <summary>Settings the benchmark needs: no per-user rate limit, many sockets per user, quiet logs.</summary>
    public static List<string> DefaultSettings(string dbPath) =>
    [
        "--urls", "http://127.0.0.1:0",
        $"--ConnectionStrings:Chat=Data Source={dbPath}",
        "--Chat:RateLimit:MessagesPerSecond=0",
        "--Chat:MaxSocketsPerUser=10000",
        "--Logging:LogLevel:Default=Warning",
        "--Logging:LogLevel:Microsoft.Hosting.Lifetime=Information",
    ];

    /// <summary>Starts (or attaches to) the server the options ask for. <paramref name="dbPath"/> reuses a prepared database.</summary>
    public static async Task<ServerHandle> StartAsync(Args args, string? dbPath = null)
    {
        if (args.Str("url") is { } url)
        {
            var pid = args.Str("server-pid") is { } p ? int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : (int?)null;
            return new ServerHandle { BaseUri = new Uri(url.TrimEnd('/') + "/"), Mode = "external", Pid = pid };
        }

        string? tempDir = null;
        if (dbPath is null)
        {
            tempDir = Path.Combine(Path.GetTempPath(), "chat-bench-" + Guid.NewGuid().ToString("N")[..8]);
            Directory.CreateDirectory(tempDir);
            dbPath = Path.Combine(tempDir, "chat.db");
        }
        var settings = DefaultSettings(dbPath);
        settings.AddRange(args.All("server-arg"));
        var keep = args.Flag("keep-db");

        if (args.Flag("in-process"))
        {
            var app = ChatHost.Build(settings.ToArray());
            await app.StartAsync();
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new ServerHandle
            {
                BaseUri = new Uri(address.TrimEnd('/') + "/"), Mode = "in-process", Pid = Environment.ProcessId,
                DatabasePath = dbPath, ServerArgs = settings, _app = app, _tempDir = tempDir, _keepDb = keep,
            };
        }

        var dll = FindServerDll(args.Str("server-dll"));
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        foreach (var s in settings) psi.ArgumentList.Add(s);
        foreach (var env in args.All("server-env"))
        {
            var eq = env.IndexOf('=');
            if (eq > 0) psi.Environment[env[..eq]] = env[(eq + 1)..];
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start dotnet.");
        var listening = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var started = await Task.WhenAny(listening.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(90)));
        if (started != listening.Task)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"The server did not start ({dll}). Its output:\n" + string.Join('\n', output));
        }
        return new ServerHandle
        {
            BaseUri = new Uri(listening.Task.Result.TrimEnd('/') + "/"), Mode = "process", Pid = process.Id,
            DatabasePath = dbPath, ServerArgs = settings, _process = process, _tempDir = tempDir, _keepDb = keep,
        };

        void OnLine(string? line)
        {
            if (line is null) return;
            if (output.Count < 200) output.Enqueue(line);
            var m = ListeningRegex().Match(line);
            if (m.Success) listening.TrySetResult(m.Groups[1].Value);
            else if (line.Contains("fail:", StringComparison.Ordinal) || line.Contains("crit:", StringComparison.Ordinal) || line.Contains("Unhandled", StringComparison.Ordinal))
                Console.Error.WriteLine("[server] " + line);
        }
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningRegex();

    /// <summary>
    /// Chat.Server.dll: <c>--server-dll</c>, else the Chat.Server project's build output of the same
    /// configuration as this tool (the project reference builds it), else the copy beside this tool.
    /// </summary>
    public static string FindServerDll(string? explicitPath)
    {
        if (explicitPath is not null)
            return File.Exists(explicitPath) ? Path.GetFullPath(explicitPath) : throw new FileNotFoundException("--server-dll not found", explicitPath);
        var baseDir = AppContext.BaseDirectory;
        var config = baseDir.Contains($"{Path.DirectorySeparatorChar}Debug{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Debug" : "Release";
        var root = Paths.RepoRoot();
        var candidates = new List<string>();
        if (root is not null)
        {
            candidates.Add(Path.Combine(root, "Chat.Server", "bin", config, "net10.0", "Chat.Server.dll"));
            candidates.Add(Path.Combine(root, "Chat.Server", "bin", config == "Debug" ? "Release" : "Debug", "net10.0", "Chat.Server.dll"));
        }
        candidates.Add(Path.Combine(baseDir, "Chat.Server.dll"));
        foreach (var c in candidates)
            if (File.Exists(c) && File.Exists(Path.ChangeExtension(c, ".runtimeconfig.json"))) return c;
        throw new FileNotFoundException("Chat.Server.dll not found; build the solution or pass --server-dll. Looked at: " + string.Join(", ", candidates));
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _ = kill(_process.Id, 15); // SIGTERM: graceful shutdown
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                try { await _process.WaitForExitAsync(cts.Token); }
                catch (OperationCanceledException) { _process.Kill(entireProcessTree: true); }
            }
            _process.Dispose();
        }
        if (_tempDir is not null && !_keepDb)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            try { Directory.Delete(_tempDir, recursive: true); }
            catch (IOException) { }
        }
        else if (_tempDir is not null) Console.WriteLine($"database kept: {DatabasePath}");
    }
}

public static class Paths
{
    /// <summary>The directory holding Chat.sln, searched upwards from the current directory and from this tool.</summary>
    public static string? RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Chat.sln"))) return dir.FullName;
        }
        return null;
    }

    public static string ResultsDir() => Path.Combine(RepoRoot() ?? Directory.GetCurrentDirectory(), "bench-results");
    public static string DocsDir() => Path.Combine(RepoRoot() ?? Directory.GetCurrentDirectory(), "docs");
}
