using System.Net;
using System.Net.Sockets;

namespace Chat.Tests.Resilience;

/// <summary>
/// A setting that cannot work stops the real process at start-up with one line on stderr naming the setting (or
/// the address) and what is accepted, a non-zero exit code and no stack trace (contract section 1); a value that
/// can work starts.
/// </summary>
[TestFixture]
public sealed class BadSettingsTests
{
    private static readonly TimeSpan ExitWithin = TimeSpan.FromSeconds(20);
    private string _databasePath = null!;

    [SetUp]
    public void SetUp() =>
        _databasePath = Path.Combine(Path.GetTempPath(), "chat-tests", $"{Guid.NewGuid():N}.db");

    [TearDown]
    public void TearDown()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
            File.Delete(_databasePath + suffix);
    }

    private static readonly object[] Refused =
    [
        new object[] { "--Chat:MaxMessageLength=-5", "Chat:MaxMessageLength" },
        new object[] { "--Chat:MaxMessageLength=abc", "Chat:MaxMessageLength" },
        new object[] { "--Chat:TokenLifetime=00:00:00", "Chat:TokenLifetime" },
        new object[] { "--Chat:TokenLifetime=soon", "Chat:TokenLifetime" },
        new object[] { "--Chat:LoginThrottle:Window=-00:01:00", "Chat:LoginThrottle:Window" },
        new object[] { "--Chat:WebSocketFastPath=maybe", "Chat:WebSocketFastPath" },
        new object[] { "--Chat:ForwardedHeaders:KnownProxies:0=not-an-address", "Chat:ForwardedHeaders:KnownProxies" },
    ];

    [TestCaseSource(nameof(Refused))]
    public async Task ASettingThatCannotWorkExitsNonZeroWithOneLineNamingIt(string argument, string setting)
    {
        var (exitCode, stderr, output) = await RunToExitAsync(argument);

        Assert.That(exitCode, Is.Not.Zero, output);
        AssertOneLineWithoutTrace(stderr, output, setting);
    }

    [Test]
    public async Task APortInUseExitsNonZeroWithOneLineNamingTheAddress()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var address = $"http://127.0.0.1:{((IPEndPoint)taken.LocalEndpoint).Port}";

        var (exitCode, stderr, output) = await RunToExitAsync("--urls", address);

        Assert.That(exitCode, Is.Not.Zero, output);
        AssertOneLineWithoutTrace(stderr, output, address);
    }

    [Test]
    public async Task AnAvatarLimitBelowTheOldMinimumStillStarts()
    {
        // 1,000 bytes was refused (minimum 1,024) although nothing needs more.
        await using var server = await ServerProcess.StartAsync(_databasePath, "--Chat:MaxAvatarBytes=1000");
        var token = await server.RegisterAsync("small_avatar");
        using var client = server.CreateClient(token);
        using var tooLarge = new ByteArrayContent(new byte[1001]);
        tooLarge.Headers.ContentType = new("image/png");
        var response = await client.PutAsync("/api/users/me/avatar", tooLarge);
        Assert.That((int)response.StatusCode, Is.EqualTo(413), "the lowered limit is in force");
    }

    private async Task<(int ExitCode, string Stderr, string Output)> RunToExitAsync(params string[] args)
    {
        await using var server = await ServerProcess.StartAsync(_databasePath, new ServerProcessOptions { WaitUntilHealthy = false }, args);
        var exited = await server.WaitForExitAsync(ExitWithin);
        Assert.That(exited, Is.True, $"the server still runs {ExitWithin.TotalSeconds}s after start with {string.Join(' ', args)}:\n{server.Output}");
        // The exit event can come before the last asynchronous output callbacks.
        await Task.Delay(200);
        return (server.ExitCode, server.StandardError, server.Output);
    }

    private static void AssertOneLineWithoutTrace(string stderr, string output, string named)
    {
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Multiple(() =>
        {
            Assert.That(lines, Has.Length.EqualTo(1), $"exactly one line on stderr:\n{stderr}");
            Assert.That(lines.FirstOrDefault(), Does.Contain(named), "the line names the setting or address");
            Assert.That(output, Does.Not.Contain("   at "), "no stack trace anywhere in the output");
            Assert.That(output, Does.Not.Contain("Unhandled exception"));
        });
    }
}
