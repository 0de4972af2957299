using System.Text;
using System.Text.Json.Nodes;
using Chat.Tests.Hardening;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Realtime;

/// <summary>
/// The connection-level fast path for <c>/ws</c> (Kestrel only), byte for byte over raw TCP: a correct RFC 6455
/// handshake, frames that arrive in the same packet as the head, and every request it does not take (a head
/// split across packets, other paths, bad tokens) still answered by the HTTP pipeline as before.
/// </summary>
[TestFixture]
public sealed class WebSocketFastPathTests
{
    private ChatApp _app = null!;
    private TestUser _alice = null!;

    [SetUp]
    public async Task SetUp()
    {
        _app = await ChatApp.StartAsync(Transport.Kestrel);
        _alice = await _app.RegisterAsync("alice");
        await _app.RegisterAsync("bob");
    }

    [TearDown]
    public async Task TearDown() => await _app.DisposeAsync();

    private string Head(string target, string? authorization, string key = RawWebSocket.SampleKey) =>
        RawWebSocket.UpgradeHead(_app.BaseAddress, target, authorization, key);

    private static string ExpectedAccept(string key) => RawWebSocket.ExpectedAccept(key);

    [Test]
    public async Task AnUpgradeWithABearerTokenGetsTheRfc6455AcceptKeyAndThenConnected()
    {
        await using var raw = await RawWebSocket.OpenAsync(_app.BaseAddress);
        await raw.WriteAsync(Head("/ws", $"Bearer {_alice.Token}"));
        var head = await raw.ReadHeadAsync();
        Assert.That(head, Does.StartWith("HTTP/1.1 101 "));
        Assert.That(RawWebSocket.Header(head, "Sec-WebSocket-Accept"), Is.EqualTo(ExpectedAccept("dGhlIHNhbXBsZSBub25jZQ==")));
        Assert.That(RawWebSocket.Header(head, "Upgrade"), Is.EqualTo("websocket").IgnoreCase);
        // Kestrel's HTTP pipeline always adds Date; the fast path's 101 is the bare handshake.
        Assert.That(RawWebSocket.Header(head, "Date"), Is.Null, "answered by the fast path, not the pipeline");
        var connected = await raw.ReadTextFrameAsync();
        Assert.That(connected["type"]!.GetValue<string>(), Is.EqualTo("connected"));
        Assert.That(connected["username"]!.GetValue<string>(), Is.EqualTo("alice"));
    }

    [Test]
    public async Task AQueryTokenWorksAndAFrameSentInTheSamePacketAsTheHeadIsServed()
    {
        await using var raw = await RawWebSocket.OpenAsync(_app.BaseAddress);
        var send = new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = "pipelined", ["client_msg_id"] = "p1" };
        await raw.WriteAsync([.. Encoding.ASCII.GetBytes(Head($"/ws?token={Uri.EscapeDataString(_alice.Token)}", null)), .. RawWebSocket.MaskedTextFrame(send.ToJsonString())]);
        Assert.That(await raw.ReadHeadAsync(), Does.StartWith("HTTP/1.1 101 "));
        var types = new List<string>();
        for (var i = 0; i < 6 && !types.Contains("ack"); i++) types.Add((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>());
        Assert.That(types, Does.Contain("connected").And.Contain("ack"));
        Assert.That((await _alice.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Has.Count.EqualTo(1));
    }

    [Test]
    public async Task AHeadSplitAcrossPacketsIsLeftToThePipelineAndStillUpgrades()
    {
        await using var raw = await RawWebSocket.OpenAsync(_app.BaseAddress);
        var head = Head("/ws", $"Bearer {_alice.Token}");
        await raw.WriteAsync(head[..20]);
        await Task.Delay(200);
        await raw.WriteAsync(head[20..]);
        var answer = await raw.ReadHeadAsync();
        Assert.That(answer, Does.StartWith("HTTP/1.1 101 "));
        Assert.That(RawWebSocket.Header(answer, "Date"), Is.Not.Null, "answered by the HTTP pipeline");
        Assert.That(RawWebSocket.Header(answer, "Sec-WebSocket-Accept"), Is.EqualTo(ExpectedAccept("dGhlIHNhbXBsZSBub25jZQ==")));
        Assert.That((await raw.ReadTextFrameAsync())["type"]!.GetValue<string>(), Is.EqualTo("connected"));
    }

    [TestCase("/ws", "Bearer not-a-token", 401)]
    [TestCase("/ws", null, 401)]
    [TestCase("/ws", "Basic YWxpY2U6cHc=", 401)]
    [TestCase("/nowhere", "VALID", 404)]
    public async Task UpgradesItDoesNotTakeGetThePipelinesAnswer(string target, string? authorization, int status)
    {
        await using var raw = await RawWebSocket.OpenAsync(_app.BaseAddress);
        await raw.WriteAsync(Head(target, authorization == "VALID" ? $"Bearer {_alice.Token}" : authorization));
        var head = await raw.ReadHeadAsync();
        Assert.That(head, Does.StartWith($"HTTP/1.1 {status} "));
    }

    [Test]
    public async Task AMalformedKeyIsNotUpgraded()
    {
        await using var raw = await RawWebSocket.OpenAsync(_app.BaseAddress);
        await raw.WriteAsync(Head("/ws", $"Bearer {_alice.Token}", key: "too-short"));
        var head = await raw.ReadHeadAsync();
        Assert.That(head, Does.Not.StartWith("HTTP/1.1 101 "));
        Assert.That(head, Does.StartWith("HTTP/1.1 4"));
    }
}
