using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// State that belongs to the cluster, not to a node (contract section 5): logout closes the token's sockets on every
/// node, the send rate limit counts sends through all nodes together, and a profile change shows on every node within
/// a second.
/// </summary>
public sealed class ClusterWideStateTests : ClusterTestBase
{
    [Test]
    public async Task LogoutThroughNodeAClosesTheTokensSocketsOnNodeBWith1008AndNoOtherSocket()
    {
        await StartClusterAsync();
        var alice = await Cluster.A.RegisterAsync("alice");
        var otherDevice = await Cluster.B.LoginAsync(alice);
        var onB = await Cluster.B.ConnectAsync(alice);
        var onA = await Cluster.A.ConnectAsync(alice);
        await using var otherTokenOnB = await Cluster.B.ConnectAsync(otherDevice);

        var (status, _) = await Cluster.A.PostAsync(alice, "/api/auth/logout", null);
        Assert.That(status, Is.EqualTo(204));

        Assert.That(await onB.WaitClosedAsync(TimeSpan.FromSeconds(5)), Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "the token's socket on node B");
        Assert.That(await onA.WaitClosedAsync(TimeSpan.FromSeconds(5)), Is.EqualTo(WebSocketCloseStatus.PolicyViolation), "the token's socket on node A");
        Assert.That(await otherTokenOnB.DrainAsync(), Has.None.Matches<JsonObject>(f => f.Type() == "error"), "a socket of another token stays open and answers");
        using var client = Cluster.B.CreateClient(alice.Token);
        Assert.That((int)(await client.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(401), "the token is refused on node B too");
        await onA.DisposeAsync();
        await onB.DisposeAsync();
    }

    [Test]
    public async Task ALogoutMadeWhileRedisIsDownClosesTheTokensSocketOnTheOtherNodeOnceRedisIsBack()
    {
        await StartClusterAsync();
        var alice = await Cluster.A.RegisterAsync("alice");
        await using var onB = await Cluster.B.ConnectAsync(alice);

        await Cluster.Redis!.StopAsync();
        var (status, _) = await Cluster.A.PostAsync(alice, "/api/auth/logout", null);
        Assert.That(status, Is.EqualTo(204));
        await Cluster.Redis.StartAsync();

        // The bus lost the revocation; node B finds it in the database when Redis is back.
        Assert.That(await onB.WaitClosedAsync(TimeSpan.FromSeconds(15)), Is.EqualTo(WebSocketCloseStatus.PolicyViolation),
            "the revoked token's socket on node B closes");
    }

    [Test]
    public async Task TheSendRateLimitCountsSendsThroughBothNodesTogether()
    {
        await StartClusterAsync(new ClusterOptions
        {
            Settings = new Dictionary<string, string> { ["Chat:RateLimit:MessagesPerSecond"] = "1", ["Chat:RateLimit:Burst"] = "5" },
        });
        var alice = await Cluster.A.RegisterAsync("alice");
        await Cluster.B.RegisterAsync("bob");

        // Ten sends, alternating nodes, as fast as they go: a per-node limit would accept all ten (five a node).
        var clock = Stopwatch.StartNew();
        var answers = new List<(string Node, int Status, JsonObject Body)>();
        for (var i = 0; i < 10; i++)
        {
            var node = i % 2 == 0 ? Cluster.A : Cluster.B;
            var (status, body) = await node.TrySendAsync(alice, "bob", $"m{i}");
            answers.Add((node.Name, status, body));
        }
        var took = clock.Elapsed;
        var summary = string.Join(", ", answers.Select(a => $"{a.Node}:{a.Status}"));

        var accepted = answers.Count(a => a.Status == 201);
        Assert.That(answers.Take(5).Select(a => a.Status), Is.All.EqualTo(201), $"the burst of five is accepted ({summary})");
        Assert.That(accepted, Is.LessThanOrEqualTo(5 + (int)Math.Ceiling(took.TotalSeconds)), $"at most the burst plus one a second over {took.TotalSeconds:F2}s ({summary})");
        var refused = answers.Where(a => a.Status != 201).ToList();
        Assert.That(refused.Select(a => (a.Status, a.Body["code"]?.GetValue<string>())), Is.All.EqualTo((429, "rate_limited")), summary);
        Assert.That(refused.Select(a => a.Node).Distinct(), Is.EquivalentTo(new[] { "node A", "node B" }), $"both nodes refuse once the shared budget is spent ({summary})");
    }

    [Test]
    public async Task FailedLoginsThroughBothNodesCountTogetherForTheLoginThrottle()
    {
        await StartClusterAsync(new ClusterOptions
        {
            Settings = new Dictionary<string, string> { ["Chat:LoginThrottle:FailuresPerUsernameAndAddress"] = "3" },
        });
        var alice = await Cluster.A.RegisterAsync("alice");

        // Three wrong passwords, alternating nodes: a per-node count would allow three on each.
        var statuses = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            var node = i % 2 == 0 ? Cluster.A : Cluster.B;
            using var client = node.CreateClient();
            var response = await client.PostRawJsonAsync("/api/auth/login", new JsonObject { ["username"] = "alice", ["password"] = "wrong-password" }.ToJsonString());
            statuses.Add((int)response.StatusCode);
        }
        Assert.That(statuses, Is.EqualTo(new[] { 401, 401, 401, 429, 429 }), "the fourth failure on either node is throttled");

        using var right = Cluster.B.CreateClient();
        var blocked = await right.PostRawJsonAsync("/api/auth/login", new JsonObject { ["username"] = "alice", ["password"] = alice.Password }.ToJsonString());
        Assert.That((int)blocked.StatusCode, Is.EqualTo(429), "the blocked pair is refused even with the right password, on the other node too");
    }

    [Test]
    public async Task AFullNameAndEmailChangedThroughNodeAShowInFramesFromNodeBWithinOneSecond()
    {
        await StartClusterAsync();
        var alice = await Cluster.A.RegisterAsync("alice", "Alice Old", "old@example.com");
        var bob = await Cluster.B.RegisterAsync("bob");
        await using var bobOnB = await Cluster.B.ConnectAsync(bob);
        // Node B builds frames about alice before the change (whatever it caches, it has her old profile now).
        await Cluster.B.SendAsync(alice, "bob", "before");
        var before = await bobOnB.WaitForAsync("chat_message");
        Assert.That((before.Str("sender_full_name"), before.Str("sender_email")), Is.EqualTo(("Alice Old", "old@example.com")));

        await Cluster.A.PatchProfileAsync(alice, new JsonObject { ["full_name"] = "Alice New", ["email"] = "new@example.com" });
        await Task.Delay(TimeSpan.FromSeconds(1));

        await Cluster.B.SendAsync(alice, "bob", "after");
        var after = await bobOnB.WaitForAsync("chat_message", match: f => f.Str("message") == "after");
        Assert.That((after.Str("sender_full_name"), after.Str("sender_email")), Is.EqualTo(("Alice New", "new@example.com")), "chat_message from node B");
        await Cluster.B.SendAsync(bob, "alice", "reply");
        var echo = await bobOnB.WaitForAsync("message_sent", match: f => f.Str("message") == "reply");
        Assert.That((echo.Str("receiver_full_name"), echo.Str("receiver_email")), Is.EqualTo(("Alice New", "new@example.com")), "message_sent from node B");
    }

    [Test]
    public async Task AnAvatarUploadedThroughNodeAShowsInNodeBsAnswersWithinOneSecond()
    {
        await StartClusterAsync();
        var alice = await Cluster.A.RegisterAsync("alice");
        var bob = await Cluster.B.RegisterAsync("bob");
        await Cluster.B.SendAsync(alice, "bob", "hi");
        Assert.That((await Cluster.B.GetAsync(bob, "/api/conversations"))["conversations"]![0]!["other_user"]!["profile_picture"], Is.Null);

        using (var client = Cluster.A.CreateClient(alice.Token))
        {
            var content = new ByteArrayContent([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]);
            content.Headers.ContentType = new("image/png");
            Assert.That((int)(await client.PutAsync("/api/users/me/avatar", content)).StatusCode, Is.EqualTo(200));
        }
        await Task.Delay(TimeSpan.FromSeconds(1));

        var listed = (await Cluster.B.GetAsync(bob, "/api/conversations"))["conversations"]![0]!["other_user"]!.AsObject();
        Assert.That(listed["profile_picture"]?.GetValue<string>(), Does.StartWith("/api/users/alice/avatar?v="), "conversation list on node B");
        var found = (await Cluster.B.GetAsync(bob, "/api/users/search?q=alice"))["results"]![0]!.AsObject();
        Assert.That(found["profile_picture"]?.GetValue<string>(), Does.StartWith("/api/users/alice/avatar?v="), "search on node B");
    }
}
