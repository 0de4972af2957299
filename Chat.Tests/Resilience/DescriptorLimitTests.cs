using System.Net.Http.Json;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Chat.Tests.Realtime;

namespace Chat.Tests.Resilience;

/// <summary>
/// The real server under a lowered open-file limit (<c>prlimit --nofile=1200</c>): more silent connections than it
/// has descriptors for are refused by the connection caps derived from that limit, instead of an <c>accept</c>
/// failing with EMFILE and aborting the process; the sockets already open keep being served, and new connections
/// are taken again once the flood closes.
/// </summary>
[TestFixture]
[NonParallelizable]
public sealed class DescriptorLimitTests
{
    private const int OpenFiles = 1200;
    private const int Flood = 1300;

    [Test]
    public async Task MoreSilentConnectionsThanDescriptorsAreRefusedWhileTheServerKeepsServingAndRecovers()
    {
        if (!File.Exists("/usr/bin/prlimit")) Assert.Ignore("prlimit (util-linux) is not installed.");
        var databasePath = ChatApp.NewDatabasePath();
        Directory.CreateDirectory(Path.GetDirectoryName(databasePath)!);
        await using var server = await ServerProcess.StartAsync(databasePath, new ServerProcessOptions { OpenFileLimit = OpenFiles });
        using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        var alice = await RegisterAsync(http, "fd_alice");
        var bob = await RegisterAsync(http, "fd_bob");
        await using var aliceSocket = await ConnectAsync(server.BaseAddress, alice);
        await using var bobSocket = await ConnectAsync(server.BaseAddress, bob);

        var flood = new List<TcpClient>();
        try
        {
            for (var i = 0; i < Flood; i++)
            {
                var tcp = new TcpClient();
                flood.Add(tcp);
                await tcp.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port).WaitAsync(TimeSpan.FromSeconds(10));
            }
            await Task.Delay(TimeSpan.FromSeconds(3));
            var refused = flood.Count(ClosedByPeer);
            var descriptors = Directory.GetFileSystemEntries($"/proc/{server.Id}/fd").Length;
            TestContext.Out.WriteLine($"{Flood} silent connections under a {OpenFiles}-descriptor limit: {refused} refused by the server, {Flood - refused} held; the server holds {descriptors} descriptors");
            Assert.That(server.HasExited, Is.False, $"the server died under the flood:\n{server.Output}");
            Assert.That(refused, Is.GreaterThan(0), "connections past the cap are refused");
            Assert.That(descriptors, Is.LessThan(OpenFiles - 100), "the server keeps descriptors to spare (for its database files) instead of running out");

            // The sockets opened before the flood are still served, both ways.
            await aliceSocket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "fd_bob", ["message"] = "still here", ["client_msg_id"] = "fd1" });
            await aliceSocket.WaitForAsync("ack");
            Assert.That((await bobSocket.WaitForAsync("chat_message")).Str("message"), Is.EqualTo("still here"));
        }
        finally
        {
            foreach (var tcp in flood) tcp.Dispose();
        }

        // Once the flood is gone, new connections are served again.
        await Deadline.WaitUntilAsync(async () =>
        {
            try { return (await http.GetAsync("/healthz")).IsSuccessStatusCode; }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { return false; }
        }, TimeSpan.FromSeconds(30), "/healthz to answer 200 on a new connection");
        await using var again = await ConnectAsync(server.BaseAddress, bob);
        await again.AssertStillOpenAsync();
        Assert.That(server.HasExited, Is.False);
    }

    private static bool ClosedByPeer(TcpClient tcp)
    {
        try { return tcp.Client.Poll(0, SelectMode.SelectRead) && tcp.Client.Available == 0; }
        catch (SocketException) { return true; }
    }

    private static async Task<string> RegisterAsync(HttpClient http, string username)
    {
        var response = await http.PostAsJsonAsync("/api/auth/register", new JsonObject { ["username"] = username, ["password"] = "password123" });
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), json?.ToJsonString());
        return json!.Str("token");
    }

    private static async Task<ChatSocket> ConnectAsync(Uri server, string token)
    {
        var client = new ClientWebSocket();
        client.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        await client.ConnectAsync(new UriBuilder(new Uri(server, "ws")) { Scheme = "ws" }.Uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        var socket = new ChatSocket(client);
        await socket.ExpectAsync("connected");
        return socket;
    }
}
