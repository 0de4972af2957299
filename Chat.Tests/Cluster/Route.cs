namespace Chat.Tests.Cluster;

/// <summary>How the clients of a cross-node test reach the cluster.</summary>
public enum Route
{
    /// <summary>Each user straight to a node of its own: the first to node A, the second to node B.</summary>
    Direct,

    /// <summary>Everyone through nginx; its round robin (one worker) alternates nodes, so two sockets opened one after the other land on different nodes.</summary>
    Nginx,
}
