using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Realtime;

/// <summary>
/// Transport faults over real Kestrel sockets: a connection that never speaks or stalls in its head is closed by
/// Kestrel's timeouts whatever path it takes; a client's close frame is echoed before TCP closes (RFC 6455 section
/// 5.5.1), also after an invalid close code; an over-long message is closed with 1009 whatever
/// <c>Chat:MaxFrameBytes</c> is.
/// </summary>
[TestFixture]
public sealed class TransportLimitTests : ServerPerTest
{
    private Task<ChatApp> StartAsync(params (string Key, string Value)[] settings) =>
        StartServerAsync(Transport.Kestrel, settings.ToDictionary(s => s.Key, s => (string?)s.Value));

    [Test]
    public async Task AConnectionThatSendsNothingIsClosedAfterTheKeepAliveTimeout()
    {
        var app = await StartAsync(("Kestrel:Limits:KeepAliveTimeout", "00:00:02"));
        await using var silent = await RawWebSocket.OpenAsync(app.BaseAddress, TimeSpan.FromSeconds(20));
        var clock = Stopwatch.StartNew();
        await silent.ReadToEndAsync();
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)), "closed by the server, not by the test's own timeout");
        TestContext.Out.WriteLine($"a silent connection was closed after {clock.Elapsed.TotalSeconds:F1} s (keep-alive timeout 2 s)");
    }

    [TestCase("GET /ws HTTP/1.1\r\n", TestName = "AConnectionThatStallsInAWebSocketHeadIsClosedAfterTheRequestHeadersTimeout")]
    [TestCase("G", TestName = "AConnectionThatStallsAfterOneByteIsClosedAfterTheRequestHeadersTimeout")]
    public async Task AStalledHeadIsClosed(string partialHead)
    {
        var app = await StartAsync(("Kestrel:Limits:RequestHeadersTimeout", "00:00:02"));
        await using var stalled = await RawWebSocket.OpenAsync(app.BaseAddress, TimeSpan.FromSeconds(20));
        await stalled.WriteAsync(partialHead);
        var clock = Stopwatch.StartNew();
        await stalled.ReadToEndAsync();
        Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromSeconds(15)), "closed by the server, not by the test's own timeout");
    }

    [Test]
    public async Task AnUpgradePastTheUpgradedConnectionCapIsRefusedWith503AndRetryAfterAndOthersKeepWorking()
    {
        var app = await StartAsync(("Chat:WebSocketFastPath", "false"), ("Kestrel:Limits:MaxConcurrentUpgradedConnections", "2"));
        var alice = await app.RegisterAsync("alice");
        await using var first = await alice.ConnectReadyAsync();
        await using var second = await alice.ConnectReadyAsync();

        await using var raw = await RawWebSocket.OpenAsync(app.BaseAddress);
        await raw.WriteAsync(RawWebSocket.UpgradeHead(app.BaseAddress, "/ws", $"Bearer {alice.Token}"));
        var head = await raw.ReadHeadAsync();
        Assert.Multiple(() =>
        {
            Assert.That(head, Does.StartWith("HTTP/1.1 503 "), "a full server says so, not 500");
            Assert.That(RawWebSocket.Header(head, "Retry-After"), Is.EqualTo("5"));
            Assert.That(RawWebSocket.Header(head, "Content-Type"), Does.StartWith("application/problem+json"));
        });
        await first.AssertStillOpenAsync();
        await second.AssertStillOpenAsync();
    }

    [Test]
    public async Task AClientsCloseFrameIsEchoedBeforeTheConnectionClosesEveryTime()
    {
        var app = await StartAsync();
        var alice = await app.RegisterAsync("alice");
        for (var attempt = 0; attempt < 40; attempt++)
        {
            await using var raw = await RawWebSocket.UpgradeAsync(app.BaseAddress, alice.Token);
            Assert.That((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>(), Is.EqualTo("connected"));
            await raw.WriteAsync(RawWebSocket.MaskedCloseFrame(1000, "bye"));
            var (opcode, payload) = await SkipToCloseAsync(raw);
            Assert.That(opcode, Is.EqualTo(0x8), $"attempt {attempt}: a close frame answers the client's close");
            Assert.That(payload.Length >= 2 ? (payload[0] << 8) | payload[1] : -1, Is.EqualTo(1000), $"attempt {attempt}: the close code is echoed");
            Assert.That(await raw.ReadToEndAsync(), Is.True, $"attempt {attempt}: then TCP closes in order, not by a reset");
        }
    }

    [TestCase(999)]
    [TestCase(1005)]
    [TestCase(1006)]
    [TestCase(1015)]
    [TestCase(5000)]
    public async Task AnInvalidCloseCodeIsAnsweredWithA1002CloseFrameBeforeTheConnectionCloses(int invalidCode)
    {
        var app = await StartAsync();
        var alice = await app.RegisterAsync("alice");
        for (var attempt = 0; attempt < 10; attempt++)
        {
            await using var raw = await RawWebSocket.UpgradeAsync(app.BaseAddress, alice.Token);
            Assert.That((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>(), Is.EqualTo("connected"));
            await raw.WriteAsync(RawWebSocket.MaskedCloseFrame(invalidCode));
            var (opcode, payload) = await SkipToCloseAsync(raw);
            Assert.That(opcode, Is.EqualTo(0x8), $"attempt {attempt}: a close frame answers the invalid one");
            Assert.That((payload[0] << 8) | payload[1], Is.EqualTo(1002), $"attempt {attempt}: protocol error (RFC 6455 section 7.4.1)");
        }
    }

    private static async Task<(int Opcode, byte[] Payload)> SkipToCloseAsync(RawWebSocket raw)
    {
        while (true)
        {
            var frame = await raw.ReadFrameAsync();
            if (frame.Opcode != 0x1) return frame; // presence or other text frames may come first
        }
    }

    [TestCase(1024)]
    [TestCase(4095)]
    [TestCase(5000)]
    [TestCase(8191)]
    [TestCase(65535)]
    [TestCase(65536)]
    public async Task AMessageOneByteOverTheLimitOrMuchLongerIsClosedWith1009WhateverTheLimit(int maxFrameBytes)
    {
        var app = await StartAsync(("Chat:MaxFrameBytes", maxFrameBytes.ToString()));
        var alice = await app.RegisterAsync("alice");
        foreach (var length in new[] { maxFrameBytes + 1, 3 * maxFrameBytes + 17 })
        {
            await using var socket = await alice.ConnectReadyAsync();
            // Sent in pieces, as a browser does with a large message: the server must keep reading to see its end.
            var bytes = Encoding.UTF8.GetBytes(new string('x', length));
            for (var offset = 0; offset < bytes.Length; offset += 1000)
            {
                var end = Math.Min(bytes.Length, offset + 1000);
                try { await socket.Socket.SendAsync(bytes.AsMemory(offset, end - offset), WebSocketMessageType.Text, end == bytes.Length, CancellationToken.None); }
                catch (WebSocketException) { break; /* the server closed mid-message, as it may */ }
            }
            Assert.That(await socket.WaitClosedAsync(TimeSpan.FromSeconds(10)), Is.EqualTo(WebSocketCloseStatus.MessageTooBig),
                $"a {length}-byte message with MaxFrameBytes={maxFrameBytes}");
        }
        // And the server still serves.
        await using var again = await alice.ConnectReadyAsync();
        await again.AssertStillOpenAsync();
    }
}
