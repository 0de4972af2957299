using NUnit.Framework.Interfaces;

namespace Chat.Tests.Cluster;

/// <summary>
/// The cluster tests' base: category <c>Cluster</c>, never in parallel (each test runs five processes), skipped with a
/// one-line reason containing "cluster tests skipped" where PostgreSQL, Redis or nginx is missing (<c>.ci/run</c> fails
/// on that line). A test starts its cluster with <see cref="StartClusterAsync"/>; it is stopped after the test, and a
/// failing test's output ends with every process's log.
/// </summary>
[Category("Cluster")]
[NonParallelizable]
public abstract class ClusterTestBase
{
    private ChatCluster? _cluster;

    /// <summary>The running cluster (after <see cref="StartClusterAsync"/>).</summary>
    protected ChatCluster Cluster => _cluster ?? throw new InvalidOperationException("StartClusterAsync first.");

    [SetUp]
    public void SkipWhereTheEnginesAreMissing()
    {
        if (ChatCluster.UnavailableReason is { } reason) Assert.Ignore(reason);
    }

    /// <summary>Starts the test's cluster (two nodes on PostgreSQL and Redis; nginx and the rest as <paramref name="options"/> say).</summary>
    protected async Task<ChatCluster> StartClusterAsync(ClusterOptions? options = null) =>
        _cluster = await ChatCluster.StartAsync(options ?? new ClusterOptions());

    [TearDown]
    public async Task StopCluster()
    {
        if (_cluster is null) return;
        if (TestContext.CurrentContext.Result.Outcome.Status == TestStatus.Failed)
            await TestContext.Out.WriteLineAsync(_cluster.Diagnostics());
        await _cluster.DisposeAsync();
        _cluster = null;
    }
}
