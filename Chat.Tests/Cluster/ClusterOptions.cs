namespace Chat.Tests.Cluster;

/// <summary>How a test's <see cref="ChatCluster"/> is put together.</summary>
public sealed record ClusterOptions
{
    /// <summary>Start nginx (the documented config) in front of the two nodes.</summary>
    public bool WithNginx { get; init; }

    /// <summary>
    /// Run the nodes on a PostgreSQL cluster of the test's own instead of a schema on the run's shared one: for a test
    /// that stops PostgreSQL, which must not take the other tests' database with it.
    /// </summary>
    public bool PrivatePostgres { get; init; }

    /// <summary>Join the nodes through Redis (false only for a check of the kit itself: two PostgreSQL nodes, no cluster mode).</summary>
    public bool WithRedis { get; init; } = true;

    /// <summary><c>Chat:Cluster:NodeTimeout</c> for every node; null keeps the server's default (30 s).</summary>
    public TimeSpan? NodeTimeout { get; init; }

    /// <summary>Further settings for every node, as <c>--key=value</c> (they come last, so they override the kit's).</summary>
    public IReadOnlyDictionary<string, string> Settings { get; init; } = new Dictionary<string, string>();
}
