using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>One fresh server (TestHost, own SQLite file or PostgreSQL schema) per test, on each store.</summary>
[BothStores]
public abstract class ApiTestBase
{
    protected ChatApp App = null!;

    [SetUp]
    public async Task StartServer() => App = await ChatApp.StartAsync(Transport.TestHost);

    [TearDown]
    public async Task StopServer() => await App.DisposeAsync();

    /// <summary>Replaces this test's server with one started with <paramref name="settings"/>.</summary>
    protected async Task RestartWithAsync(IDictionary<string, string?> settings)
    {
        await App.DisposeAsync();
        App = await ChatApp.StartAsync(Transport.TestHost, settings);
    }
}
