namespace Chat.Tests.Infrastructure;

/// <summary>
/// For fixtures whose tests each start their own server with their own settings: <see cref="StartServerAsync"/>
/// keeps it, and it is stopped (and its database deleted) after the test, whatever the outcome.
/// </summary>
public abstract class ServerPerTest
{
    private ChatApp? _app;

    /// <summary>Starts this test's server.</summary>
    protected async Task<ChatApp> StartServerAsync(Transport transport, Dictionary<string, string?>? settings = null) =>
        _app = await ChatApp.StartAsync(transport, settings);

    [TearDown]
    public async Task StopServerAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        _app = null;
    }
}
