namespace Chat.Tests;

/// <summary>
/// Once the whole run is over: stops the throw-away PostgreSQL clusters, and kills any Redis or nginx a cluster test
/// could not stop itself (a test aborted mid-way), so no process of the run outlives it.
/// </summary>
[SetUpFixture]
public sealed class TestRunCleanup
{
    [OneTimeTearDown]
    public void StopServers()
    {
        Infrastructure.NginxServer.KillAll();
        Infrastructure.RedisServer.KillAll();
        Infrastructure.PostgresServer.Stop();
    }
}
