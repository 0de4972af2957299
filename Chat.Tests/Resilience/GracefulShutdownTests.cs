using System.Diagnostics;
using System.Net.WebSockets;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Resilience;

/// <summary>
/// SIGTERM to the real server process during a stream of sends: the socket is closed with 1001, the process
/// exits in time, and every send is either acknowledged and stored or was never acknowledged.
/// </summary>
[BothStores]
[NonParallelizable]
public sealed class GracefulShutdownTests
{
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(10);
    private string _databasePath = null!;

    [SetUp]
    public async Task SetUp() => _databasePath = await ChatApp.NewDatabaseAsync(BothStoresAttribute.Current);

    [TearDown]
    public void TearDown() => ChatApp.DeleteDatabase(_databasePath);

    [Test]
    public async Task SigtermDuringSendsClosesWith1001AndLosesNothingAcknowledged()
    {
        if (!ChatApp.IsPostgres(_databasePath)) Directory.CreateDirectory(Path.GetDirectoryName(_databasePath)!);
        SendStream stream;
        TimeSpan exitedAfter;
        await using (var server = await ServerProcess.StartAsync(_databasePath))
        {
            var senderToken = await server.RegisterAsync("term_sender");
            var receiverToken = await server.RegisterAsync("term_receiver");
            await using var socket = await server.ConnectAsync(senderToken);
            await socket.ExpectAsync("connected");
            await using var receiver = await server.ConnectAsync(receiverToken);
            await receiver.ExpectAsync("connected");

            stream = new SendStream(socket, "term_receiver");
            stream.Start();
            await stream.WaitForAcksAsync(200, TimeSpan.FromSeconds(60));

            var clock = Stopwatch.StartNew();
            await server.TerminateAsync();
            var exited = await server.WaitForExitAsync(ExitBound);
            exitedAfter = clock.Elapsed;
            Assert.That(exited, Is.True, $"the process did not exit within {ExitBound.TotalSeconds}s of SIGTERM.\n{server.Output}");
            TestContext.Out.WriteLine($"shutdown: exited {exitedAfter.TotalSeconds:F1}s after SIGTERM with code {server.ExitCode}");

            await stream.Ended.WaitAsync(TimeSpan.FromSeconds(10));
            stream.Stop();
            Assert.That(stream.CloseStatus, Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable),
                $"the sending socket should be closed with 1001 (going away).\n{server.Output}");
            Assert.That(await receiver.WaitClosedAsync(), Is.EqualTo(WebSocketCloseStatus.EndpointUnavailable), "an idle socket should be closed with 1001 too");
        }

        var acks = stream.Acks.ToList();
        var acked = stream.Acked.ToDictionary();
        var errors = stream.Errors.ToDictionary();
        await using (var restarted = await ServerProcess.StartAsync(_databasePath))
        {
            var stored = StoredMessages.All(_databasePath);
            var storedClientIds = stored.Values.Where(v => v is not null).ToList();
            var missing = acked.Where(a => !stored.TryGetValue(a.Value, out var id) || id != a.Key).Select(a => a.Key).ToList();
            var storedUnacked = storedClientIds.Count(id => !acked.ContainsKey(id!));
            TestContext.Out.WriteLine(
                $"shutdown: {stream.Sent} sent, {acked.Count} acked, {errors.Count} refused ({string.Join(",", errors.Values.Distinct())}), " +
                $"{stream.Sent - acked.Count - errors.Count} unanswered; {stored.Count} stored, {storedUnacked} stored but unacknowledged, {missing.Count} acked but missing");

            Assert.Multiple(() =>
            {
                Assert.That(missing, Is.Empty, "acknowledged messages lost in a graceful shutdown");
                Assert.That(acks.Select(a => a.MessageId), Is.Unique, "a message_id was acknowledged twice");
                Assert.That(acks.Select(a => a.ClientMsgId), Is.Unique, "a send was acknowledged twice");
                Assert.That(storedClientIds, Is.Unique, "a send was stored twice");
                Assert.That(errors.Keys.Where(id => storedClientIds.Contains(id)), Is.Empty, "a refused send was stored anyway");
                if (!ChatApp.IsPostgres(_databasePath)) Assert.That(StoredMessages.IntegrityCheck(_databasePath), Is.EqualTo("ok"));
            });
            await restarted.LoginAsync("term_sender");
        }
    }
}
