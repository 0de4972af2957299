namespace Chat.Tests;

/// <summary>Once the whole run is over: stops the throw-away PostgreSQL cluster, if one was started.</summary>
[SetUpFixture]
public sealed class TestRunCleanup
{
    [OneTimeTearDown]
    public void StopPostgres() => Infrastructure.PostgresServer.Stop();
}
