namespace Chat.Tests.Cluster;

/// <summary>A registered user and one of its tokens; not tied to a node (any endpoint of the cluster takes it).</summary>
public sealed record ClusterUser(string Username, string Token, string Password);
