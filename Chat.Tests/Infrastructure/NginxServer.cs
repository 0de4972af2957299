using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;

namespace Chat.Tests.Infrastructure;

/// <summary>
/// Debian's nginx as the cluster's load balancer, run in the foreground from a temporary prefix directory with the
/// project's documented config (<c>docs/nginx/chat-cluster.conf</c>, copied next to the test assembly): the test
/// fills in its placeholders (<c>${CHAT_LISTEN}</c> = 127.0.0.1 and a free port, <c>${CHAT_NODE_n}</c> = the nodes'
/// addresses) and adds only where logs, pid and temporary files go, and runs one worker (so round robin strictly
/// alternates), so what is tested is what is documented.
/// Every instance still running when the test run ends is killed (<see cref="TestRunCleanup"/>).
/// </summary>
public sealed class NginxServer : IAsyncDisposable
{
    /// <summary>Where Debian's package puts nginx.</summary>
    public const string Executable = "/usr/sbin/nginx";

    private static readonly ConcurrentDictionary<NginxServer, byte> Running = new();
    private readonly string _directory;
    private readonly Process _process;

    private NginxServer(string directory, int port, Process process)
    {
        _directory = directory;
        Port = port;
        _process = process;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
    }

    /// <summary>Null when nginx can run here; else the one-line reason the cluster tests are skipped.</summary>
    public static string? UnavailableReason =>
        !File.Exists(Executable) ? "nginx not installed (apt-get install nginx): cluster tests skipped."
        : !File.Exists(TemplatePath) ? $"{TemplatePath} is missing (the test project copies docs/nginx/chat-cluster.conf): cluster tests skipped."
        : null;

    /// <summary>The documented cluster config as the test project ships it.</summary>
    public static string TemplatePath => DocumentedConfig("chat-cluster.conf");

    public int Port { get; }
    public Uri BaseAddress { get; }

    /// <summary>nginx's error log so far (for failure messages).</summary>
    public string ErrorLog => ReadOrEmpty(Path.Combine(_directory, "error.log"));

    /// <summary>The access log so far: one line per request, with the node (<c>upstream=</c>) that served it.</summary>
    public string AccessLog => ReadOrEmpty(Path.Combine(_directory, "access.log"));

    /// <summary>A documented config shipped beside the test assembly (<c>docs/nginx/NAME</c>).</summary>
    public static string DocumentedConfig(string name) => Path.Combine(AppContext.BaseDirectory, "nginx", name);

    /// <summary>
    /// The documented config with its placeholders filled in, as this run uses it: <c>${CHAT_LISTEN}</c>, one
    /// <c>${CHAT_NODE_n}</c> per node, and any further ones in <paramref name="placeholders"/> (name without <c>${}</c>).
    /// </summary>
    public static string Render(string template, string listen, IReadOnlyList<Uri> nodes, string directory, IReadOnlyDictionary<string, string>? placeholders = null)
    {
        var text = template.Replace("${CHAT_LISTEN}", listen);
        for (var i = 0; i < nodes.Count; i++)
            text = text.Replace($"${{CHAT_NODE_{i + 1}}}", $"{nodes[i].Host}:{nodes[i].Port}");
        foreach (var (name, value) in placeholders ?? new Dictionary<string, string>())
            text = text.Replace($"${{{name}}}", value);
        if (text.Contains("${CHAT_")) throw new InvalidOperationException("The nginx template has a placeholder the test does not fill.");
        // One worker: nginx keeps round-robin state per worker, so with one the nodes strictly alternate and a test knows
        // that two requests made one after the other reach different nodes. Nothing else differs from the document.
        text = Regex.Replace(text, @"(?m)^worker_processes\s+[^;]+;", "worker_processes 1;");
        // Where this throw-away instance writes: its own directory, not /var/log/nginx or /var/lib/nginx.
        var local = $"""
            http {"{"}
                log_format chat '$remote_addr "$request" $status upstream=$upstream_addr';
                access_log {directory}/access.log chat;
                client_body_temp_path {directory}/client_body;
                proxy_temp_path {directory}/proxy;
                fastcgi_temp_path {directory}/fastcgi;
                uwsgi_temp_path {directory}/uwsgi;
                scgi_temp_path {directory}/scgi;
            """;
        var http = text.IndexOf("\nhttp {", StringComparison.Ordinal);
        if (http < 0) throw new InvalidOperationException("The nginx template has no top-level 'http {' block.");
        return text[..(http + 1)] + local + text[(http + "\nhttp {".Length)..];
    }

    /// <summary>
    /// Starts nginx on a free loopback port (<c>${CHAT_LISTEN}</c>) in front of <paramref name="nodes"/> with a documented
    /// config (<paramref name="template"/>, default <c>chat-cluster.conf</c>) and waits until it accepts connections.
    /// </summary>
    public static async Task<NginxServer> StartAsync(IReadOnlyList<Uri> nodes, string? template = null, IReadOnlyDictionary<string, string>? placeholders = null)
    {
        if (UnavailableReason is { } reason) throw new InvalidOperationException(reason);
        var directory = Path.Combine(Path.GetTempPath(), $"chat-tests-nginx-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var port = FreePort();
        var config = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(config, Render(await File.ReadAllTextAsync(template ?? TemplatePath), $"127.0.0.1:{port}", nodes, directory, placeholders));

        var globals = $"daemon off; master_process on; pid {directory}/nginx.pid; error_log {directory}/error.log info;";
        // As root, nginx would hand its workers to 'nobody'; they need nothing but the temp directory, which stays root's.
        if (Environment.UserName == "root") globals += " user root;";
        var info = new ProcessStartInfo(Executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { "-p", directory + "/", "-e", Path.Combine(directory, "error.log"), "-c", config, "-g", globals })
            info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var server = new NginxServer(directory, port, process);
        Running[server] = 0;

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            if (process.HasExited)
                throw new InvalidOperationException($"nginx exited with code {process.ExitCode}: {server.ErrorLog}");
            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }
    }

    /// <summary>Kills every instance still running (end of the test run).</summary>
    public static void KillAll()
    {
        foreach (var server in Running.Keys) server.Kill();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited)
            {
                // The master first (SIGKILL leaves its workers), then the workers, which exit once their master is gone.
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException) { }
        Running.TryRemove(this, out _);
    }

    public ValueTask DisposeAsync()
    {
        Kill();
        _process.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return ValueTask.CompletedTask;
    }

    private static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (IOException) { return ""; }
    }

    /// <summary>A loopback port nothing listens on now.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
