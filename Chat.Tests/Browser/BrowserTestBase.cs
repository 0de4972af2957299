using System.Text.Json;
using Chat.Tests.Infrastructure;
using Microsoft.Playwright;

namespace Chat.Tests.Browser;

/// <summary>
/// Drives Debian's Chromium (<c>/usr/bin/chromium</c>, never a downloaded browser) with Playwright against the real
/// server on Kestrel (127.0.0.1, temp SQLite). Each test gets a fresh server; each user gets its own browser context
/// (separate sessionStorage, like two browsers). Without Chromium every test is reported as skipped.
/// </summary>
[Category("Browser")]
[NonParallelizable]
public abstract class BrowserTestBase
{
    public const string ChromiumPath = "/usr/bin/chromium";

    /// <summary>How long UI expectations wait (the server answers in milliseconds; this is slack for slow CI).</summary>
    protected const float WaitMs = 15_000;

    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private readonly List<(string Name, IBrowserContext Context, IPage Page)> _users = [];
    private readonly List<string> _pageProblems = [];

    protected ChatApp App { get; private set; } = null!;
    protected IBrowser Browser => _browser!;

    [OneTimeSetUp]
    public async Task LaunchBrowser()
    {
        if (!File.Exists(ChromiumPath))
            Assert.Ignore("Chromium not installed: apt-get install chromium");
        Assertions.SetDefaultExpectTimeout(WaitMs);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args =
            [
                "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run",
            ],
        });
    }

    [OneTimeTearDown]
    public async Task CloseBrowser()
    {
        if (_browser is not null) await _browser.CloseAsync();
        _playwright?.Dispose();
    }

    [SetUp]
    public async Task StartServer()
    {
        _pageProblems.Clear();
        App = await ChatApp.StartAsync(Transport.Kestrel);
    }

    [TearDown]
    public async Task StopServer()
    {
        try
        {
            // On failure keep what each user saw.
            if (TestContext.CurrentContext.Result.Outcome.Status == NUnit.Framework.Interfaces.TestStatus.Failed)
            {
                foreach (var (name, _, page) in _users)
                {
                    try
                    {
                        var path = Path.Combine(TestContext.CurrentContext.WorkDirectory, $"{TestContext.CurrentContext.Test.Name}-{name}.png");
                        await page.ScreenshotAsync(new PageScreenshotOptions { Path = path, FullPage = true });
                        TestContext.AddTestAttachment(path, $"what {name} saw");
                    }
                    catch (PlaywrightException) { /* page already gone */ }
                }
            }
            foreach (var (_, context, _) in _users) await context.CloseAsync();
            _users.Clear();
        }
        finally
        {
            await App.DisposeAsync();
        }
    }

    /// <summary>Uncaught script errors and CSP violations fail the test: the app must run under the strict policy.</summary>
    protected void AssertNoPageProblems() =>
        Assert.That(_pageProblems, Is.Empty, "page errors or Content-Security-Policy violations");

    /// <summary>A new browser context (a separate "browser") on the app's page, not logged in yet.</summary>
    protected async Task<IPage> OpenBrowserAsync(string name, int width = 1000, int height = 720, bool notifications = false)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            ViewportSize = new ViewportSize { Width = width, Height = height },
            BaseURL = App.BaseAddress.ToString(),
            Locale = "en-GB",
            TimezoneId = "UTC",
            Permissions = notifications ? ["notifications"] : [],
        });
        context.SetDefaultTimeout(WaitMs);
        if (notifications)
        {
            // Record the notifications the app shows (headless Chromium has no notification center to look at).
            await context.AddInitScriptAsync("""
                (() => {
                  const Real = window.Notification;
                  window.__notifications = [];
                  class Recording extends Real {
                    constructor(title, options) { super(title, options); window.__notifications.push({ title, body: options && options.body }); }
                  }
                  Object.defineProperty(Recording, 'permission', { get: () => Real.permission });
                  Recording.requestPermission = (...a) => Real.requestPermission(...a);
                  window.Notification = Recording;
                })();
                """);
        }
        var page = await context.NewPageAsync();
        page.PageError += (_, error) => _pageProblems.Add($"{name}: page error: {error}");
        page.Console += (_, message) =>
        {
            if (message.Type == "error" && message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
                _pageProblems.Add($"{name}: {message.Text}");
        };
        _users.Add((name, context, page));
        var response = await page.GotoAsync("/");
        Assert.That(response?.Status, Is.EqualTo(200));
        Assert.That(response!.Headers.GetValueOrDefault("content-security-policy"), Does.Contain("script-src 'self'"));
        return page;
    }

    /// <summary>Logs in through the form (keyboard only) and waits until the socket is open.</summary>
    protected async Task<IPage> LoginAsync(string name, TestUser user, int width = 1000, int height = 720, bool notifications = false)
    {
        var page = await OpenBrowserAsync(name, width, height, notifications);
        await LoginOnPageAsync(page, user);
        return page;
    }

    /// <summary>Logs in on a page opened with <see cref="OpenBrowserAsync"/> (e.g. after routing its WebSocket).</summary>
    protected static async Task LoginOnPageAsync(IPage page, TestUser user)
    {
        await page.GetByLabel("Username").FillAsync(user.Username);
        await page.GetByLabel("Password").FillAsync(user.Password);
        await page.GetByLabel("Password").PressAsync("Enter");
        await ExpectOnlineAsync(page);
    }

    protected static Task ExpectOnlineAsync(IPage page) =>
        Assertions.Expect(page.Locator("#conn-status")).ToHaveAttributeAsync("data-state", "open", new() { Timeout = WaitMs });

    /// <summary>Types in the search box, picks the person, and lands in the (new) chat with them.</summary>
    protected static async Task SearchAndOpenAsync(IPage page, string query, string username)
    {
        await page.GetByLabel("Search people").FillAsync(query);
        var result = page.Locator($".search-result[data-username=\"{username}\"]");
        await result.ClickAsync();
        await Assertions.Expect(page.Locator("#chat-pane")).ToBeVisibleAsync();
    }

    /// <summary>Types a message in the composer and presses Enter.</summary>
    protected static async Task SendAsync(IPage page, string text)
    {
        var box = page.GetByLabel("Message", new() { Exact = true });
        await box.FillAsync(text);
        await box.PressAsync("Enter");
    }

    protected static ILocator ConversationItem(IPage page, string username) =>
        page.Locator($"#conv-list .conv-item[data-username=\"{username}\"]");

    protected static ILocator Messages(IPage page) => page.Locator("#messages .msg");

    /// <summary>The texts of the messages in the open chat window, in order.</summary>
    protected static async Task<IReadOnlyList<string>> MessageTextsAsync(IPage page) =>
        await page.Locator("#messages .msg .text").AllTextContentsAsync();

    /// <summary>The repository root (the folder holding Chat.sln), found by walking up from the test binary.</summary>
    protected static string RepositoryRoot() => RepositoryPaths.Root();

    protected static string Json(object value) => JsonSerializer.Serialize(value);
}
