using Chat.Server.Realtime;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Playwright;

namespace Chat.Tests.Browser;

/// <summary>The web client in wwwroot, as two people use it in two browsers.</summary>
public sealed class WebClientTests : BrowserTestBase
{
    [Test]
    public async Task SeedScenario_SearchSendLiveSidebarAndReadReceipt()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        var alice = await LoginAsync("alice", aliceUser);
        var bob = await LoginAsync("bob", bobUser, notifications: true);
        await alice.EvaluateAsync("() => { window.__sameDocument = true; }");
        await bob.EvaluateAsync("() => { window.__sameDocument = true; }");

        // A searches B (as you type) and sends "Hello" from the search result.
        await alice.GetByLabel("Search people").FillAsync("bo");
        var result = alice.Locator(".search-result[data-username=\"bob\"]");
        await Assertions.Expect(result).ToContainTextAsync("Bob Builder");
        await Assertions.Expect(result.Locator(".initials")).ToHaveTextAsync("BB"); // no picture: initials
        await result.ClickAsync();
        await SendAsync(alice, "Hello");
        var sent = alice.Locator("#messages .msg.own").Filter(new() { HasText = "Hello" });
        await Assertions.Expect(sent).ToHaveAttributeAsync("data-status", "sent");
        await Assertions.Expect(sent.Locator(".status")).ToHaveTextAsync("Sent");
        await Assertions.Expect(ConversationItem(alice, "bob")).ToContainTextAsync("You: Hello");

        // B's sidebar shows the new conversation with one unread message, without a reload.
        var item = ConversationItem(bob, "alice");
        await Assertions.Expect(item).ToBeVisibleAsync();
        await Assertions.Expect(item.Locator(".conv-name")).ToHaveTextAsync("Alice Archer");
        await Assertions.Expect(item.Locator(".conv-preview")).ToHaveTextAsync("Hello");
        await Assertions.Expect(item.Locator(".badge")).ToHaveTextAsync("1");
        await Assertions.Expect(bob).ToHaveTitleAsync("(1) Chat");
        // The conversation is not open on B's side: a browser notification was shown.
        var notifications = await bob.EvaluateAsync<string[]>("() => window.__notifications.map(n => n.title + ': ' + n.body)");
        Assert.That(notifications, Does.Contain("Alice Archer: Hello"));

        // B opens it: the message is there, the badge goes, and A sees the read receipt.
        await item.ClickAsync();
        await Assertions.Expect(bob.Locator("#chat-name")).ToHaveTextAsync("Alice Archer");
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(1);
        await Assertions.Expect(bob.Locator("#messages .msg.their .text")).ToHaveTextAsync("Hello");
        await Assertions.Expect(item.Locator(".badge")).ToHaveCountAsync(0);
        await Assertions.Expect(sent).ToHaveAttributeAsync("data-status", "read");
        await Assertions.Expect(sent.Locator(".status")).ToHaveTextAsync("Read");

        // B answers; A has the chat open, so it appears at once, and B sees A typing first.
        await alice.GetByLabel("Message", new() { Exact = true }).PressSequentiallyAsync("Hi");
        await Assertions.Expect(bob.Locator("#typing")).ToHaveTextAsync("Alice Archer is typing…");
        await SendAsync(bob, "Hi Alice, how are you?");
        await Assertions.Expect(alice.Locator("#messages .msg.their .text")).ToHaveTextAsync("Hi Alice, how are you?");
        await Assertions.Expect(ConversationItem(alice, "bob").Locator(".badge")).ToHaveCountAsync(0); // read while open

        Assert.That(await alice.EvaluateAsync<bool>("() => window.__sameDocument === true"), Is.True, "A's page was reloaded");
        Assert.That(await bob.EvaluateAsync<bool>("() => window.__sameDocument === true"), Is.True, "B's page was reloaded");
        AssertNoPageProblems();
    }

    [Test]
    public async Task Reconnect_MissedMessagesAppearExactlyOnce()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        var alice = await LoginAsync("alice", aliceUser);
        var bob = await LoginAsync("bob", bobUser);
        await bob.EvaluateAsync("() => { window.__sameDocument = true; }");

        // They already talk; both have the chat open.
        await SearchAndOpenAsync(alice, "bob", "bob");
        await SendAsync(alice, "before the cut");
        await ConversationItem(bob, "alice").ClickAsync();
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(1);

        // Watch what B's client sends on its sockets.
        var sentByBob = new List<string>();
        bob.WebSocket += (_, ws) => ws.FrameSent += (_, frame) => { lock (sentByBob) sentByBob.Add(frame.Text ?? ""); };

        // Cut B's socket from the server side while B cannot reconnect at once (offline), and A sends three messages.
        await bob.Context.SetOfflineAsync(true);
        var registry = App.Services.GetRequiredService<ConnectionRegistry>();
        var bobId = registry.All().First(c => c.Username == "bob").UserId;
        foreach (var socket in registry.SocketsOf(bobId)) socket.Close(1011, "test", drain: false);
        await Assertions.Expect(bob.Locator("#conn-status")).Not.ToHaveAttributeAsync("data-state", "open");

        foreach (var text in new[] { "missed one", "missed two", "missed three" })
            await SendAsync(alice, text);
        await Assertions.Expect(alice.Locator("#messages .msg.own:not([data-status=\"pending\"])")).ToHaveCountAsync(4);

        // B comes back: the client reconnects, syncs, and shows each message once, in order.
        await bob.Context.SetOfflineAsync(false);
        await ExpectOnlineAsync(bob);
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(4);
        await Assertions.Expect(bob.Locator("#messages .msg .text")).ToHaveTextAsync(["before the cut", "missed one", "missed two", "missed three"]);
        await Assertions.Expect(ConversationItem(bob, "alice").Locator(".conv-preview")).ToHaveTextAsync("missed three");
        // The presence snapshot after reconnecting shows alice online (the dot was cleared while disconnected).
        await Assertions.Expect(ConversationItem(bob, "alice").Locator(".presence-dot.online")).ToBeVisibleAsync();
        await Assertions.Expect(bob.Locator("#chat-sub")).ToHaveTextAsync("@alice · online");
        // A later live message is still shown once (nothing replayed twice).
        await SendAsync(alice, "after");
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(5);
        await bob.WaitForTimeoutAsync(300);
        Assert.That(await MessageTextsAsync(bob), Is.EqualTo(new[] { "before the cut", "missed one", "missed two", "missed three", "after" }));

        lock (sentByBob)
            Assert.That(sentByBob, Has.Some.Contains("\"type\":\"sync\""), "the client did not sync after reconnecting");
        Assert.That(await bob.EvaluateAsync<bool>("() => window.__sameDocument === true"), Is.True, "B's page was reloaded");
        AssertNoPageProblems();
    }

    [Test]
    public async Task ASendOverHttpWhileTheSocketIsDown_DoesNotHideTheMessagesThatArrivedMeanwhile()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        await aliceUser.SendAsync("bob", "before the cut");
        var bob = await OpenBrowserAsync("bob");
        var socketDown = new[] { false };
        // While "down", every new socket of B's page is closed at once (HTTP keeps working), as on a flaky network.
        await bob.RouteWebSocketAsync(new System.Text.RegularExpressions.Regex("/ws"), ws =>
        {
            if (Volatile.Read(ref socketDown[0])) _ = ws.CloseAsync(new() { Code = 1011, Reason = "down" });
            else ws.ConnectToServer();
        });
        await LoginOnPageAsync(bob, bobUser);
        await ExpectOnlineAsync(bob);
        await ConversationItem(bob, "alice").ClickAsync();
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(1);

        Volatile.Write(ref socketDown[0], true);
        var registry = App.Services.GetRequiredService<ConnectionRegistry>();
        foreach (var socket in registry.All().Where(c => c.Username == "bob").ToList()) socket.Close(1011, "test", drain: false);
        await Assertions.Expect(bob.Locator("#conn-status")).Not.ToHaveAttributeAsync("data-state", "open");

        // A's messages arrive while B's socket is down; then B sends, over HTTP, a message with a larger id.
        await aliceUser.SendAsync("bob", "while away 1");
        await aliceUser.SendAsync("bob", "while away 2");
        await SendAsync(bob, "sent over http");
        await Assertions.Expect(bob.Locator("#messages .msg.own:not([data-status=\"pending\"])")).ToHaveCountAsync(1);

        // The socket comes back: sync starts from the last frame the socket brought, not from the HTTP receipt.
        Volatile.Write(ref socketDown[0], false);
        await ExpectOnlineAsync(bob);
        await Assertions.Expect(bob.Locator("#messages .msg .text")).ToHaveTextAsync(["before the cut", "while away 1", "while away 2", "sent over http"]);
        await bob.WaitForTimeoutAsync(300);
        Assert.That(await MessageTextsAsync(bob), Is.EqualTo(new[] { "before the cut", "while away 1", "while away 2", "sent over http" }), "each once, in order");
    }

    [Test]
    public async Task HostileMessageText_RendersAsText()
    {
        var aliceUser = await App.RegisterAsync("alice", "<b>Alice</b><img src=x onerror=window.__xss=3>");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        var alice = await LoginAsync("alice", aliceUser);
        var bob = await LoginAsync("bob", bobUser);
        const string hostile = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>";

        await SearchAndOpenAsync(alice, "bob", "bob");
        await SendAsync(alice, hostile);
        await ConversationItem(bob, "alice").ClickAsync();

        // The text is shown literally, in the chat window and in the sidebar, and nothing ran.
        foreach (var page in new[] { alice, bob })
        {
            await Assertions.Expect(page.Locator("#messages .msg .text")).ToHaveTextAsync(hostile);
            await Assertions.Expect(page.Locator("#messages").GetByText(hostile, new() { Exact = true })).ToBeVisibleAsync();
            Assert.That(await page.Locator("#messages img, #messages script").CountAsync(), Is.Zero);
        }
        await Assertions.Expect(ConversationItem(bob, "alice").Locator(".conv-preview")).ToHaveTextAsync(hostile);
        await Assertions.Expect(ConversationItem(bob, "alice").Locator(".conv-name")).ToHaveTextAsync("<b>Alice</b><img src=x onerror=window.__xss=3>");
        await Assertions.Expect(bob.Locator("#chat-name")).ToHaveTextAsync("<b>Alice</b><img src=x onerror=window.__xss=3>");
        await bob.WaitForTimeoutAsync(300); // let any (wrongly) injected handler fire
        foreach (var page in new[] { alice, bob })
            Assert.That(await page.EvaluateAsync<string>("() => typeof window.__xss"), Is.EqualTo("undefined"));
        AssertNoPageProblems();
    }

    [Test]
    public async Task HistoryPagesBackOnScrollUp()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        for (var i = 1; i <= 120; i++) await aliceUser.SendAsync("bob", $"message {i}");
        var bob = await LoginAsync("bob", bobUser);

        var item = ConversationItem(bob, "alice");
        await Assertions.Expect(item.Locator(".badge")).ToHaveTextAsync("120");
        await item.ClickAsync();
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(50);
        await Assertions.Expect(Messages(bob).Last).ToContainTextAsync("message 120");

        // Scrolling to the top loads older pages until the start.
        for (var attempt = 0; attempt < 10 && await Messages(bob).CountAsync() < 120; attempt++)
        {
            await bob.Locator("#messages-scroll").EvaluateAsync("el => { el.scrollTop = 0; el.dispatchEvent(new Event('scroll')); }");
            await bob.WaitForTimeoutAsync(200);
        }
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(120);
        await Assertions.Expect(bob.Locator("#history-start")).ToBeVisibleAsync();
        var texts = await MessageTextsAsync(bob);
        Assert.That(texts, Is.EqualTo(Enumerable.Range(1, 120).Select(i => $"message {i}").ToArray()));
        await Assertions.Expect(item.Locator(".badge")).ToHaveCountAsync(0);
        AssertNoPageProblems();
    }

    [Test]
    public async Task NewMessagesMarker_WhenScrolledUp()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        for (var i = 1; i <= 40; i++) await aliceUser.SendAsync("bob", $"line {i}");
        var bob = await LoginAsync("bob", bobUser, height: 500);
        await ConversationItem(bob, "alice").ClickAsync();
        await Assertions.Expect(Messages(bob)).ToHaveCountAsync(40);

        // At the bottom, a new message scrolls into view; scrolled up, a marker appears instead.
        await aliceUser.SendAsync("bob", "while at the bottom");
        await Assertions.Expect(Messages(bob).Last).ToBeInViewportAsync();
        await Assertions.Expect(bob.Locator("#new-marker")).ToBeHiddenAsync();

        await bob.Locator("#messages-scroll").EvaluateAsync("el => { el.scrollTop = 200; }");
        await aliceUser.SendAsync("bob", "while scrolled up");
        await Assertions.Expect(bob.Locator("#new-marker")).ToBeVisibleAsync();
        await Assertions.Expect(Messages(bob).Last).Not.ToBeInViewportAsync();
        await bob.Locator("#new-marker").ClickAsync();
        await Assertions.Expect(Messages(bob).Last).ToBeInViewportAsync();
        await Assertions.Expect(bob.Locator("#new-marker")).ToBeHiddenAsync();
        AssertNoPageProblems();
    }

    [Test]
    public async Task PhoneWidth_KeyboardOnly()
    {
        var aliceUser = await App.RegisterAsync("alice", "Alice Archer");
        var bobUser = await App.RegisterAsync("bob", "Bob Builder");
        await aliceUser.SendAsync("bob", "Hello from Alice, with a long first line that must not widen the phone layout at all");
        var bob = await OpenBrowserAsync("bob-phone", width: 390, height: 760);

        // Log in with the keyboard only.
        await bob.GetByLabel("Username").FocusAsync();
        await bob.Keyboard.TypeAsync("bob");
        await bob.Keyboard.PressAsync("Tab");
        await bob.Keyboard.TypeAsync(bobUser.Password);
        await bob.Keyboard.PressAsync("Enter");
        await ExpectOnlineAsync(bob);

        // One panel at a time: the list, then the chat, then back.
        var item = ConversationItem(bob, "alice");
        await Assertions.Expect(item).ToBeVisibleAsync();
        await Assertions.Expect(bob.Locator("#chat")).ToBeHiddenAsync();
        await AssertFitsWidthAsync(bob, 390);
        await item.FocusAsync();
        await bob.Keyboard.PressAsync("Enter");
        await Assertions.Expect(bob.Locator("#messages .msg .text")).ToHaveTextAsync("Hello from Alice, with a long first line that must not widen the phone layout at all");
        await Assertions.Expect(bob.Locator(".sidebar")).ToBeHiddenAsync();
        await Assertions.Expect(bob.GetByLabel("Message", new() { Exact = true })).ToBeFocusedAsync();
        await bob.Keyboard.TypeAsync("Typed and sent with Enter");
        await bob.Keyboard.PressAsync("Enter");
        await Assertions.Expect(bob.Locator("#messages .msg.own[data-status=\"sent\"]")).ToHaveCountAsync(1);
        await AssertFitsWidthAsync(bob, 390);

        await bob.GetByRole(AriaRole.Button, new() { Name = "Back to conversations" }).PressAsync("Enter");
        await Assertions.Expect(item).ToBeVisibleAsync();
        await Assertions.Expect(item).ToBeFocusedAsync();
        await Assertions.Expect(item.Locator(".conv-preview")).ToHaveTextAsync("You: Typed and sent with Enter");
        AssertNoPageProblems();
    }

    /// <summary>Nothing visible sticks out to the right (a long message preview must not widen the layout).</summary>
    private static async Task AssertFitsWidthAsync(IPage page, int width)
    {
        var widest = await page.EvaluateAsync<double>("""
            () => Math.max(...[...document.querySelectorAll('#app-view *')]
              .filter(el => el.getClientRects().length)
              .map(el => el.getBoundingClientRect().right))
            """);
        Assert.That(widest, Is.LessThanOrEqualTo(width + 0.5), "horizontal overflow at phone width");
    }

    [Test]
    public async Task Screenshot_TwoWindows()
    {
        var aliceUser = await App.RegisterAsync("purnaacharya", "Purna Acharya", "purna@example.com");
        var bobUser = await App.RegisterAsync("sishirbhusal", "Sishir Bhusal");
        var pradeep = await App.RegisterAsync("pradeep", "Pradeep Karki");
        await pradeep.SendAsync("purnaacharya", "Are we still on for Friday?");
        var purna = await LoginAsync("purna", aliceUser);
        var sishir = await LoginAsync("sishir", bobUser);

        // Purna uploads a profile picture in her profile panel (drawn on a canvas, a real PNG).
        var png = await purna.EvaluateAsync<string>("""
            () => {
              const c = document.createElement('canvas'); c.width = c.height = 96;
              const g = c.getContext('2d');
              const grad = g.createLinearGradient(0, 0, 96, 96); grad.addColorStop(0, '#f59e0b'); grad.addColorStop(1, '#db2777');
              g.fillStyle = grad; g.fillRect(0, 0, 96, 96);
              g.fillStyle = '#fff'; g.beginPath(); g.arc(48, 38, 18, 0, Math.PI * 2); g.fill();
              g.beginPath(); g.arc(48, 100, 34, 0, Math.PI * 2); g.fill();
              return c.toDataURL('image/png').split(',')[1];
            }
            """);
        await purna.Locator("#profile-button").ClickAsync();
        await purna.Locator("#avatar-input").SetInputFilesAsync(new FilePayload { Name = "me.png", MimeType = "image/png", Buffer = Convert.FromBase64String(png) });
        await Assertions.Expect(purna.Locator("#profile-status")).ToHaveTextAsync("Picture updated.");
        await Assertions.Expect(purna.Locator("#me-avatar img")).ToHaveAttributeAsync("src", new System.Text.RegularExpressions.Regex("/api/users/purnaacharya/avatar\\?v="));
        await purna.Locator("#profile-close").ClickAsync();

        // Sishir finds her (with her picture) and writes; they chat.
        await sishir.GetByLabel("Search people").FillAsync("purna");
        await Assertions.Expect(sishir.Locator(".search-result[data-username=\"purnaacharya\"] img")).ToBeVisibleAsync();
        await sishir.Locator(".search-result[data-username=\"purnaacharya\"]").ClickAsync();
        await SendAsync(sishir, "Hello");
        await ConversationItem(purna, "sishirbhusal").ClickAsync();
        await SendAsync(purna, "Hi Sishir! I got your message right away, no refresh needed.");
        await Assertions.Expect(sishir.Locator("#messages .msg.their")).ToHaveCountAsync(1);
        await SendAsync(sishir, "The real-time fix works. Shall we test read receipts?");
        await Assertions.Expect(purna.Locator("#messages .msg.their")).ToHaveCountAsync(2);
        await Assertions.Expect(sishir.Locator("#messages .msg.own").Last).ToHaveAttributeAsync("data-status", "read");
        await purna.GetByLabel("Message", new() { Exact = true }).PressSequentiallyAsync("Yes");
        await Assertions.Expect(sishir.Locator("#typing")).ToContainTextAsync("is typing");

        // Both windows side by side in one picture.
        var left = await purna.ScreenshotAsync();
        var right = await sishir.ScreenshotAsync();
        var composer = await Browser.NewPageAsync(new() { ViewportSize = new ViewportSize { Width = 2040, Height = 760 } });
        await composer.SetContentAsync($"""
            <html><body style="margin:0;background:#d9dce3;display:flex;gap:20px;padding:20px;box-sizing:border-box">
            <img src="data:image/png;base64,{Convert.ToBase64String(left)}" style="width:1000px;height:720px;border-radius:8px">
            <img src="data:image/png;base64,{Convert.ToBase64String(right)}" style="width:1000px;height:720px;border-radius:8px">
            </body></html>
            """);
        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, "web-client-two-windows.png");
        await composer.ScreenshotAsync(new PageScreenshotOptions { Path = path });
        await composer.CloseAsync();
        TestContext.AddTestAttachment(path, "Purna (left) and Sishir (right) chatting in two browsers");

        var docs = Path.Combine(RepositoryRoot(), "docs");
        Directory.CreateDirectory(docs);
        File.Copy(path, Path.Combine(docs, "screenshot.png"), overwrite: true);
        AssertNoPageProblems();
    }
}
