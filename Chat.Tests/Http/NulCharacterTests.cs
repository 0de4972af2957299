using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>
/// U+0000 is refused in every stored text and in search, alike on both stores (protocol.md, "no U+0000 in text"): a
/// PostgreSQL <c>text</c> column cannot hold it, and a value one store takes must be taken by the other.
/// </summary>
public sealed class NulCharacterTests : ApiTestBase
{
    private const string WithNul = "before\u0000after";

    [Test]
    public async Task AMessageContainingU0000Is400BadRequestAndNothingIsStored()
    {
        var alice = await App.RegisterAsync("alice");
        await App.RegisterAsync("bob");
        using var client = alice.Client();
        await (await client.SendMessageAsync(new JsonObject { ["receiver"] = "bob", ["message"] = WithNul })).AssertProblemAsync(400, "bad_request");
        Assert.That((await alice.GetAsync("/api/conversations"))["conversations"]!.AsArray(), Is.Empty);
    }

    [Test]
    public async Task AMessageContainingU0000OverTheSocketIsBadFrameAndTheSocketStaysOpen()
    {
        var alice = await App.RegisterAsync("alice");
        await App.RegisterAsync("bob");
        await using var socket = await alice.ConnectAsync();
        await socket.ExpectAsync("connected");
        await socket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = WithNul, ["client_msg_id"] = "nul" });
        var error = await socket.ExpectAsync("error");
        Assert.That((error["code"]!.GetValue<string>(), error["client_msg_id"]!.GetValue<string>()), Is.EqualTo(("bad_frame", "nul")));
        await socket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bob", ["message"] = "fine", ["client_msg_id"] = "ok" });
        Assert.That((await socket.WaitForAsync("ack"))["client_msg_id"]!.GetValue<string>(), Is.EqualTo("ok"));
    }

    [Test]
    public async Task AClientMsgIdContainingU0000Is400BadRequest()
    {
        var alice = await App.RegisterAsync("alice");
        await App.RegisterAsync("bob");
        using var client = alice.Client();
        await (await client.SendMessageAsync(new JsonObject { ["receiver"] = "bob", ["message"] = "hi", ["client_msg_id"] = WithNul }))
            .AssertProblemAsync(400, "bad_request");
    }

    [Test]
    public async Task AFullNameContainingU0000Is400BadRequestAtRegistrationAndInAProfileChange()
    {
        using var anonymous = App.CreateClient();
        await (await anonymous.PostAsJsonAsync("/api/auth/register", new JsonObject { ["username"] = "carol", ["password"] = "password123", ["full_name"] = WithNul }))
            .AssertProblemAsync(400, "bad_request");
        var alice = await App.RegisterAsync("alice", "Alice A");
        using var client = alice.Client();
        await (await client.PatchAsJsonAsync("/api/users/me", new JsonObject { ["full_name"] = WithNul })).AssertProblemAsync(400, "bad_request");
        Assert.That((await alice.GetAsync("/api/users/me")).Str("full_name"), Is.EqualTo("Alice A"));
    }

    [Test]
    public async Task ASearchForU0000Is400BadRequestAndAUsernameWithItNamesNobody()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();
        await (await client.GetAsync("/api/users/search?q=al%00")).AssertProblemAsync(400, "bad_request");
        await (await client.SendMessageAsync(new JsonObject { ["receiver"] = "bob\u0000", ["message"] = "hi" })).AssertProblemAsync(404, "unknown_user");
    }

    [Test]
    public async Task APasswordWithAnAddedU0000DoesNotLogIn()
    {
        await App.RegisterAsync("alice", password: "password123");
        using var client = App.CreateClient();
        await (await client.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = "alice", ["password"] = "password123\u0000" }))
            .AssertProblemAsync(401, "invalid_credentials");
        Assert.That((int)(await client.PostAsJsonAsync("/api/auth/login", new JsonObject { ["username"] = "alice", ["password"] = "password123" })).StatusCode, Is.EqualTo(200));
    }
}
