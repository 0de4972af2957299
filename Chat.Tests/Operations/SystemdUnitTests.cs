using System.Diagnostics;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Operations;

/// <summary>
/// The systemd units docs/operations.md tells an operator to install (<c>docs/systemd/</c>) pass
/// <c>systemd-analyze verify</c> (syntax, known settings, the programs they start exist), and the service keeps the
/// settings the guide relies on: graceful SIGTERM with room for the drain, a raised open-file limit, JSON logs.
/// </summary>
[TestFixture]
public sealed class SystemdUnitTests
{
    private const string Analyzer = "/usr/bin/systemd-analyze";

    private static string Units => Path.Combine(RepositoryPaths.Root(), "docs", "systemd");

    [Test]
    public async Task TheDocumentedUnitsPassSystemdAnalyzeVerify()
    {
        if (!File.Exists(Analyzer)) Assert.Ignore("systemd-analyze not installed (apt-get install systemd): systemd unit tests skipped.");
        // verify wants the binaries the units start; the guide installs dotnet as /usr/bin/dotnet.
        if (!File.Exists("/usr/bin/dotnet")) Assert.Ignore("/usr/bin/dotnet missing (the units start it): systemd unit tests skipped.");
        var files = Directory.GetFiles(Units);
        Assert.That(files.Select(Path.GetFileName), Is.EquivalentTo(new[] { "chat.service", "chat-backup.service", "chat-backup.timer" }));

        var info = new ProcessStartInfo(Analyzer) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Units };
        foreach (var arg in new[] { "verify", "--man=no" }.Concat(files.Select(f => "./" + Path.GetFileName(f)))) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        var said = (await output + await error).Trim();
        Assert.That(process.ExitCode, Is.Zero, said);
        Assert.That(said, Is.Empty, "systemd-analyze found something to say about the units");
    }

    [Test]
    public void TheServiceStopsGracefullyWithRoomForTheDrainAndManySockets()
    {
        var unit = File.ReadAllLines(Path.Combine(Units, "chat.service"));
        string Value(string key) => unit.Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];

        Assert.That(Value("KillSignal"), Is.EqualTo("SIGTERM"));
        Assert.That(int.Parse(Value("TimeoutStopSec")), Is.GreaterThanOrEqualTo(15), "more than 2 x CloseTimeout + 5 s");
        Assert.That(int.Parse(Value("LimitNOFILE")), Is.GreaterThanOrEqualTo(65536));
        Assert.That(Value("ExecStart"), Does.Contain("/opt/chat/Chat.Server.dll"));
        Assert.That(unit, Has.Some.EqualTo("Environment=Logging__Console__FormatterName=json"));
    }
}
