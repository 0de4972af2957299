using System.Net.WebSockets;
using Chat.Server;
using Chat.Server.Realtime;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Tests.Realtime;

/// <summary>The registry's per-user socket cap is one atomic step: threads adding at once never pass it together.</summary>
public sealed class ConnectionRegistryTests
{
    [Test]
    public async Task ThreadsAddingSocketsOfOneUserAtOnceNeverPassTheCap()
    {
        const int cap = 3, threads = 8, perThread = 2000;
        var registry = new ConnectionRegistry();
        var options = new ChatOptions();
        var admitted = 0;
        var firsts = 0;
        using var start = new ManualResetEventSlim();
        var workers = Enumerable.Range(0, threads).Select(_ => Task.Run(() =>
        {
            start.Wait();
            for (var i = 0; i < perThread; i++)
            {
                var connection = new ChatConnection(WebSocket.CreateFromStream(Stream.Null, isServer: true, null, TimeSpan.Zero), 42, "capped", 1, options, NullLogger.Instance);
                if (!registry.TryAdd(connection, cap, out var first)) continue;
                Interlocked.Increment(ref admitted);
                if (first) Interlocked.Increment(ref firsts);
                Assert.That(registry.SocketsOf(42), Has.Count.LessThanOrEqualTo(cap));
                registry.Remove(connection);
            }
        })).ToArray();
        start.Set();
        await Task.WhenAll(workers);
        Assert.Multiple(() =>
        {
            Assert.That(admitted, Is.GreaterThan(0));
            Assert.That(registry.Count, Is.Zero, "every admitted socket was removed again");
            Assert.That(firsts, Is.GreaterThan(0), "the first socket of an empty user says so");
        });
    }
}
