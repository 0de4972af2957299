using System.Diagnostics;
using System.Text;

namespace Chat.Tests.OpenApi;

/// <summary>
/// Runs Node.js tools (npx, npm, node) for the OpenAPI lint and generated-client tests. Without them those tests are
/// skipped with <see cref="SkipReason"/>, which <c>.ci/run</c> treats as a failure.
/// </summary>
public static class NodeTools
{
    /// <summary>The skip text; <c>.ci/run</c> greps the results for it.</summary>
    public const string SkipReason = "Node.js not installed (no npx on PATH): OpenAPI lint and client tests skipped";

    /// <summary>Redocly CLI, pinned (the 2.x line; later releases need Node 22).</summary>
    public const string RedoclyCli = "@redocly/cli@2.77.0";

    /// <summary>Skips the calling test when <c>npx</c> or <c>node</c> is not on PATH.</summary>
    public static void RequireNode()
    {
        if (Find("npx") is null || Find("node") is null || Find("npm") is null) Assert.Ignore(SkipReason);
    }

    /// <summary>The full path of <paramref name="name"/> on PATH, or null.</summary>
    public static string? Find(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, name))
            .FirstOrDefault(File.Exists);

    /// <summary>The outcome of one tool run.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>Everything the tool printed, for assertion messages.</summary>
        public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
    }

    /// <summary>
    /// Runs <paramref name="tool"/> with <paramref name="arguments"/> in <paramref name="workingDirectory"/>, killing it (and
    /// its children) after <paramref name="timeout"/>. npm's update notifier, funding and audit requests are turned off.
    /// </summary>
    public static async Task<Result> RunAsync(string tool, IEnumerable<string> arguments, string workingDirectory, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(Find(tool) ?? tool)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            Environment =
            {
                ["npm_config_update_notifier"] = "false",
                ["npm_config_fund"] = "false",
                ["npm_config_audit"] = "false",
                ["NO_COLOR"] = "1",
            },
        };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{tool} did not start");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{tool} {string.Join(' ', info.ArgumentList)} did not finish within {timeout}:\n{stdout}\n{stderr}");
        }
        // The parameterless wait drains the redirected streams.
        process.WaitForExit();
        lock (stdout) lock (stderr) return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }
}
