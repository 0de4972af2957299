using System.Net;
using System.Net.Sockets;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;

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
        new object[] { "--Chat:SendQueueBytes=1", "Chat:SendQueueBytes" },
        new object[] { "--Kestrel:Limits:KeepAliveTimeout=soon", "Kestrel:Limits:KeepAliveTimeout" },
        new object[] { "--Kestrel:Limits:KeepAliveTimeout=00:00:00", "Kestrel:Limits:KeepAliveTimeout" },
        new object[] { "--Kestrel:Limits:MaxConcurrentConnections=-5", "Kestrel:Limits:MaxConcurrentConnections" },
        new object[] { "--Kestrel:Limits:MaxRequestBodySize=-1", "Kestrel:Limits:MaxRequestBodySize" },
        new object[] { "--Logging:LogLevel:Default=Loud", "Logging" },
        new object[] { "--urls=ftp://127.0.0.1:5000", "urls" },
        new object[] { "--Chat:Database:Provider=Mongo", "Chat:Database:Provider" },
        new object[] { "--Chat:Metrics:Port=70000", "Chat:Metrics:Port" },
        new object[] { "--Chat:Metrics:Enabled=maybe", "Chat:Metrics:Enabled" },
        // A metrics port no listen address has: /metrics would be answered nowhere.
        new object[] { "--Chat:Metrics:Port=9", "Chat:Metrics:Port" },
        // Postgres with the test's SQLite connection string: the connection string is what cannot work.
        new object[] { "--Chat:Database:Provider=Postgres", "ConnectionStrings:Chat" },
        // A cluster (Redis) on the test's SQLite store: the nodes of a cluster must share PostgreSQL.
        new object[] { "--ConnectionStrings:Redis=127.0.0.1:6379", "ConnectionStrings:Redis" },
        new object[] { "--ConnectionStrings:Chat=Data Source=:memory:", "ConnectionStrings:Chat" },
        new object[] { "--ConnectionStrings:Chat=Mode=Memory", "ConnectionStrings:Chat" },
        new object[] { "--Chat:ForwardedHeaders:KnownProxies:0=not-an-address", "Chat:ForwardedHeaders:KnownProxies" },
        new object[] { "--Chat:AllowedOrigins=https://ok.example,app.example.com", "Chat:AllowedOrigins" },
        new object[] { "--Chat:AllowedOrigins:0=https://app.example.com/path", "Chat:AllowedOrigins" },
        new object[] { "--Chat:DrainDelay=-00:00:01", "Chat:DrainDelay" },
    ];

    [TestCaseSource(nameof(Refused))]
    public async Task ASettingThatCannotWorkExitsNonZeroWithOneLineNamingIt(string argument, string setting)
    {
        var (exitCode, stderr, output) = await RunToExitAsync(argument);

        Assert.That(exitCode, Is.Not.Zero, output);
        AssertOneLineWithoutTrace(stderr, output, setting);
    }

    [Test]
    public async Task ARedisStringWithoutAUsableAddressExitsNonZeroWithOneLineNamingIt()
    {
        // On the PostgreSQL store, so the provider is not what fails; the Redis string is checked before any connection.
        var (exitCode, stderr, output) = await RunToExitAsync(
            "--Chat:Database:Provider=Postgres", "--ConnectionStrings:Chat=Host=127.0.0.1;Port=1", "--ConnectionStrings:Redis===,,");

        Assert.That(exitCode, Is.Not.Zero, output);
        AssertOneLineWithoutTrace(stderr, output, "ConnectionStrings:Redis");
    }

    [Test]
    public async Task AMistypedCommandExitsNonZeroWithOneLineInsteadOfStartingTheServer()
    {
        var (exitCode, output) = await ServerProcess.RunCommandAsync("backpu", "/tmp/x.db", $"--ConnectionStrings:Chat=Data Source={_databasePath}");

        Assert.That(exitCode, Is.EqualTo(1), output);
        Assert.That(output.Trim().Split('\n'), Has.Length.EqualTo(1), output);
        Assert.That(output, Does.Contain("Unknown command 'backpu'").And.Contain("backup PATH"));
        Assert.That(File.Exists(_databasePath), Is.False, "the database was not touched");
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

    /// <summary>Every range's lowest accepted value, where it can be used without breaking the scenario itself.</summary>
    private static readonly Dictionary<string, string?> Lowest = new()
    {
        ["Chat:MaxMessageLength"] = "1",
        ["Chat:MaxFrameBytes"] = "1",
        ["Chat:MaxAvatarBytes"] = "1",
        ["Chat:SendQueueLimit"] = "2",
        ["Chat:SlowConsumerTimeout"] = "00:00:00",
        ["Chat:MaxOutboundBytes"] = "0",
        ["Chat:MaxInFlightSendsPerSocket"] = "1",
        ["Chat:MaxCommitBatch"] = "1",
        ["Chat:KeepAliveInterval"] = "00:00:00",
        ["Chat:KeepAliveTimeout"] = "00:00:00",
        ["Chat:CloseTimeout"] = "00:00:00.010",
        ["Chat:BusyTimeout"] = "00:00:00",
        ["Chat:MaxSocketsPerUser"] = "1",
        ["Chat:RateLimit:MessagesPerSecond"] = "1",
        ["Chat:RateLimit:Burst"] = "1",
        ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "1",
        ["Chat:LoginThrottle:FailuresPerUsername"] = "1",
        ["Chat:LoginThrottle:FailuresPerAddress"] = "1",
        ["Chat:LoginThrottle:Window"] = "00:00:00.001",
        ["Chat:LoginThrottle:SlowdownDelay"] = "00:00:00",
    };

    /// <summary>Every range's highest accepted value.</summary>
    private static readonly Dictionary<string, string?> Highest = new()
    {
        ["Chat:MaxMessageLength"] = "2147483647",
        ["Chat:MaxFrameBytes"] = "2147483590",
        ["Chat:MaxAvatarBytes"] = "1000000000",
        ["Chat:TokenLifetime"] = "1000000.00:00:00",
        ["Chat:SendQueueLimit"] = "2147483647",
        ["Chat:SendQueueBytes"] = "1152921504606846975",
        ["Chat:SlowConsumerTimeout"] = "10675199.02:48:05",
        ["Chat:MaxOutboundBytes"] = "1152921504606846975",
        ["Chat:MaxInFlightSendsPerSocket"] = "2147483647",
        ["Chat:MaxCommitBatch"] = "2147483647",
        ["Chat:KeepAliveInterval"] = "49.17:02:47.294",
        ["Chat:KeepAliveTimeout"] = "49.17:02:47.294",
        ["Chat:CloseTimeout"] = "12.10:15:41.823",
        ["Chat:BusyTimeout"] = "24855.00:00:00",
        ["Chat:MaxSocketsPerUser"] = "2147483647",
        ["Chat:RateLimit:MessagesPerSecond"] = "2147483647",
        ["Chat:RateLimit:Burst"] = "2147483647",
        ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "2147483647",
        ["Chat:LoginThrottle:FailuresPerUsername"] = "2147483647",
        ["Chat:LoginThrottle:FailuresPerAddress"] = "2147483647",
        ["Chat:LoginThrottle:Window"] = "24855.00:00:00",
        ["Chat:LoginThrottle:SlowdownDelay"] = "49.17:02:47.294",
    };

    [Test]
    public async Task EveryLimitAtItsLowestAcceptedValueStillDeliversAMessage() => await DeliverOneMessageAsync(Lowest, "a");

    /// <summary>The smallest byte bound: every frame passes it, and the client is judged by what it takes.</summary>
    [Test]
    public async Task TheSmallestSendQueueByteBoundStillDeliversAMessage() =>
        await DeliverOneMessageAsync(new() { ["Chat:SendQueueBytes"] = "2" }, string.Concat(Enumerable.Repeat("\U0001F600", 4000)));

    [Test]
    public async Task EveryLimitAtItsHighestAcceptedValueStillDeliversAMessage() => await DeliverOneMessageAsync(Highest, "hello at the top of every range");

    /// <summary>Starts, logs in, opens the receiver's socket, sends one message over HTTP and sees it arrive live.</summary>
    private static async Task DeliverOneMessageAsync(Dictionary<string, string?> settings, string message)
    {
        await using var app = await ChatApp.StartAsync(Transport.Kestrel, settings);
        var alice = await app.RegisterAsync("range_alice");
        var bob = await app.RegisterAsync("range_bob");
        using (var login = app.CreateClient())
            await (await login.LoginAsync("range_bob", bob.Password)).JsonAsync(200);
        await using var socket = await bob.ConnectAsync();
        await socket.ExpectAsync("connected");
        var sent = await alice.SendAsync("range_bob", message);
        var chat = await socket.WaitForAsync("chat_message");
        Assert.That(chat["message_id"]!.GetValue<long>(), Is.EqualTo(sent["message_id"]!.GetValue<long>()));
        Assert.That(chat["message"]!.GetValue<string>(), Is.EqualTo(message));
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
