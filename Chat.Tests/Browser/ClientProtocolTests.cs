using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Playwright;

namespace Chat.Tests.Browser;

/// <summary>
/// chat-client.js under frames the real server rarely produces on demand, injected by routing the page's WebSocket
/// through Playwright (the route forwards everything else to the real server).
/// </summary>
public sealed partial class ClientProtocolTests : BrowserTestBase
{
    [GeneratedRegex("/ws")]
    private static partial Regex WsUrl();

    [Test]
    public async Task UnknownFrameTypesAreIgnored_AndDuplicateFramesShowOnce()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        var bob = await OpenBrowserAsync("bob");
        var duplicated = 0;
        await bob.RouteWebSocketAsync(WsUrl(), ws =>
        {
            var server = ws.ConnectToServer();
            server.OnMessage(frame =>
            {
                // A frame type from a future server before every frame, and every chat_message twice.
                ws.Send("""{"type":"from_the_future","message":"<img src=x onerror=window.__xss=1>","conversation_id":1}""");
                var text = frame.Text ?? "";
                ws.Send(text);
                if (text.Contains("\"type\":\"chat_message\"")) { ws.Send(text); Interlocked.Increment(ref duplicated); }
            });
        });
        await LoginOnPageAsync(bob, bobUser);

        await aliceUser.SendAsync("bob", "one");
        await aliceUser.SendAsync("bob", "two");
        var item = ConversationItem(bob, "alice");
        await Assertions.Expect(item.Locator(".conv-preview")).ToHaveTextAsync("two");
        await Assertions.Expect(item.Locator(".badge")).ToHaveTextAsync("2");
        Assert.That(Volatile.Read(ref duplicated), Is.EqualTo(2));

        await item.ClickAsync();
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(2);
        await aliceUser.SendAsync("bob", "three");
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(3);
        await bob.WaitForTimeoutAsync(300);
        Assert.That(await MessageTextsAsync(bob), Is.EqualTo(new[] { "one", "two", "three" }));
        await Assertions.Expect(item.Locator(".badge")).ToHaveCountAsync(0);
        Assert.That(await bob.EvaluateAsync<string>("() => typeof window.__xss"), Is.EqualTo("undefined"));
        AssertNoPageProblems();
    }

    [Test]
    public async Task FailedSend_ShowsRetry_AndRetryReusesClientMsgId()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        await bobUser.SendAsync("alice", "hi alice");
        var bob = await LoginAsync("bob", bobUser);
        var alice = await OpenBrowserAsync("alice");

        // Alice's first send_message is held, then answered with an error frame instead of reaching the server.
        var release = new TaskCompletionSource();
        var sendFrames = new List<JsonObject>();
        await alice.RouteWebSocketAsync(WsUrl(), ws =>
        {
            var server = ws.ConnectToServer();
            ws.OnMessage(frame =>
            {
                var json = JsonNode.Parse(frame.Text!)!.AsObject();
                if ((string?)json["type"] != "send_message") { server.Send(frame.Text!); return; }
                int count;
                lock (sendFrames) { sendFrames.Add(json); count = sendFrames.Count; }
                if (count > 1) { server.Send(frame.Text!); return; }
                var id = (string)json["client_msg_id"]!;
                _ = release.Task.ContinueWith(_ => ws.Send(
                    new JsonObject { ["type"] = "error", ["code"] = "rate_limited", ["message"] = "slow down", ["client_msg_id"] = id }.ToJsonString()),
                    TaskScheduler.Default);
            });
        });
        await LoginOnPageAsync(alice, aliceUser);
        await ConversationItem(alice, "bob").ClickAsync();

        await SendAsync(alice, "are you there?");
        var mine = alice.Locator("#messages .msg.own");
        await Assertions.Expect(mine).ToHaveAttributeAsync("data-status", "pending");
        await Assertions.Expect(mine.Locator(".status")).ToHaveTextAsync("Sending…");
        release.SetResult();
        await Assertions.Expect(mine).ToHaveAttributeAsync("data-status", "failed");
        await Assertions.Expect(mine.Locator(".status")).ToContainTextAsync("Not sent");

        await mine.GetByRole(AriaRole.Button, new() { Name = "Retry" }).ClickAsync();
        await Assertions.Expect(mine).ToHaveAttributeAsync("data-status", "sent");
        await Assertions.Expect(mine).ToHaveCountAsync(1);
        lock (sendFrames)
        {
            Assert.That(sendFrames, Has.Count.EqualTo(2));
            Assert.That((string?)sendFrames[1]["client_msg_id"], Is.EqualTo((string?)sendFrames[0]["client_msg_id"]));
        }

        // Bob got it exactly once.
        var item = ConversationItem(bob, "alice");
        await Assertions.Expect(item.Locator(".conv-preview")).ToHaveTextAsync("are you there?");
        await item.ClickAsync();
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(2);
        Assert.That(await MessageTextsAsync(bob), Is.EqualTo(new[] { "hi alice", "are you there?" }));
        AssertNoPageProblems();
    }
}
