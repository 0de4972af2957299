using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// The kit itself, without the cluster mode (no Redis setting on the nodes, so these hold on any server version): the
/// documented nginx config proxies HTTP and WebSocket round robin to two PostgreSQL nodes, and the throw-away Redis
/// stops and starts again on the same port. When one of these fails, the other cluster tests' failures say nothing.
/// </summary>
public sealed class ClusterKitTests : ClusterTestBase
{
    [Test]
    public async Task NginxSpreadsHttpRequestsOverBothNodesRoundRobin()
    {
        var cluster = await StartClusterAsync(new ClusterOptions { WithNginx = true, WithRedis = false });
        var alice = await cluster.Nginx.RegisterAsync("alice");
        for (var i = 0; i < 6; i++) await cluster.Nginx.GetAsync(alice, "/api/users/me");

        var upstreams = await WaitForAccessLogAsync(cluster, 7);
        Assert.That(upstreams.Distinct(), Is.EquivalentTo(new[] { Address(cluster.NodeA), Address(cluster.NodeB) }), cluster.NginxProcess!.AccessLog);
        Assert.That(upstreams.Zip(upstreams.Skip(1)).All(p => p.First != p.Second), Is.True, $"consecutive requests alternate nodes: {string.Join(", ", upstreams)}");
    }

    [Test]
    public async Task NginxUpgradesWebSocketsToEitherNodeAndCarriesFramesBothWays()
    {
        var cluster = await StartClusterAsync(new ClusterOptions { WithNginx = true, WithRedis = false });
        var alice = await cluster.A.RegisterAsync("alice");
        await cluster.B.RegisterAsync("bob");

        // Two sockets one after the other: round robin puts them on different nodes.
        for (var i = 0; i < 2; i++)
        {
            await using var socket = await cluster.Nginx.ConnectAsync(alice);
            await socket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = $"through nginx {i}", ["client_msg_id"] = $"n{i}" });
            var sent = await socket.WaitForAsync("message_sent");
            Assert.That(sent.Str("message"), Is.EqualTo($"through nginx {i}"));
            var ack = await socket.WaitForAsync("ack");
            Assert.That(ack.Str("client_msg_id"), Is.EqualTo($"n{i}"));
            Assert.That((await socket.DrainAsync()).Select(f => f.Type()), Has.None.EqualTo("error"));
        }

        var upstreams = await WaitForAccessLogAsync(cluster, 4, "GET /ws");
        Assert.That(upstreams.Distinct(), Is.EquivalentTo(new[] { Address(cluster.NodeA), Address(cluster.NodeB) }), cluster.NginxProcess!.AccessLog);
    }

    [Test]
    public async Task RedisStopsAndStartsAgainOnTheSamePort()
    {
        await using var redis = await RedisServer.StartNewAsync();
        var port = redis.Port;
        Assert.That(await redis.PingAsync(), Is.True);

        await redis.StopAsync();
        Assert.That(await redis.PingAsync(), Is.False, "stopped");
        await redis.StartAsync();
        Assert.That(redis.Port, Is.EqualTo(port));
        Assert.That(await redis.PingAsync(), Is.True, "started again on the same port");

        redis.Kill();
        Assert.That(await redis.PingAsync(), Is.False, "killed");
        await redis.StartAsync();
        Assert.That(await redis.PingAsync(), Is.True, "started again after SIGKILL");
    }

    [Test]
    public void TheDocumentedNginxConfigHasEveryPlaceholderFilled()
    {
        var template = File.ReadAllText(NginxServer.TemplatePath);
        var rendered = NginxServer.Render(template, "127.0.0.1:1", [new Uri("http://127.0.0.1:2/"), new Uri("http://127.0.0.1:3/")], "/tmp/x");
        Assert.That(rendered, Does.Not.Contain("${CHAT_"));
        Assert.That(rendered, Does.Contain("server 127.0.0.1:2 ").And.Contain("server 127.0.0.1:3 ").And.Contain("listen 127.0.0.1:1;"));
        foreach (var directive in new[] { "proxy_http_version 1.1;", "proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;", "proxy_read_timeout" })
            Assert.That(template, Does.Contain(directive));
        var directives = string.Join("\n", template.Split('\n').Select(l => l.Split('#')[0]));
        Assert.That(directives, Does.Not.Contain("ip_hash").And.Not.Contain("sticky").And.Not.Contain("hash "), "round robin, no sticky sessions");
    }

    private static string Address(Resilience.ServerProcess node) => $"{node.BaseAddress.Host}:{node.BaseAddress.Port}";

    /// <summary>The upstream of each logged request (nginx logs a request when it ends; a WebSocket when it closes).</summary>
    private static async Task<List<string>> WaitForAccessLogAsync(ChatCluster cluster, int lines, string? request = null)
    {
        List<string> upstreams = [];
        await FrameLog.WaitUntilAsync(() =>
        {
            upstreams = cluster.NginxProcess!.AccessLog.Split('\n')
                .Where(l => request is null || l.Contains(request))
                .Select(l => Regex.Match(l, @"upstream=(\S+)")).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
            return upstreams.Count >= (request is null ? lines : lines / 2);
        }, TimeSpan.FromSeconds(10), () => cluster.NginxProcess!.AccessLog);
        return upstreams;
    }
}
