using Chat.Tests.Infrastructure;

namespace Chat.Tests.Conversations;

/// <summary>A fresh TestHost server per test with users <c>alice</c> and <c>bob</c> registered.</summary>
[BothStores]
public abstract class TwoUserTests
{
    protected ChatApp _app = null!;
    protected TestUser _alice = null!;
    protected TestUser _bob = null!;

    [SetUp]
    public async Task StartServerWithTwoUsers()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost);
        _alice = await _app.RegisterAsync("alice");
        _bob = await _app.RegisterAsync("bob");
    }

    [TearDown]
    public async Task StopServer() => await _app.DisposeAsync();
}
