using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>POST /api/auth/register, /login and /logout (contract section 2).</summary>
public sealed class AuthTests : ApiTestBase
{
    [Test]
    public async Task RegisterIs201WithExactlyTokenAndUserObject()
    {
        using var client = App.CreateClient();
        var response = await client.RegisterAsync(new JsonObject
        {
            ["username"] = "alice", ["password"] = "password123", ["full_name"] = "Alice Liddell", ["email"] = "alice@example.com",
        });
        var body = await response.JsonAsync(201);

        FrameAssert.HasExactKeys(body, HttpApi.AuthResponseKeys);
        Assert.That(body.Str("token"), Is.Not.Empty);
        var user = body["user"]!.AsObject();
        FrameAssert.HasExactKeys(user, FrameAssert.UserKeys);
        Assert.Multiple(() =>
        {
            Assert.That(user.Str("username"), Is.EqualTo("alice"));
            Assert.That(user.Str("full_name"), Is.EqualTo("Alice Liddell"));
            Assert.That(user.Str("email"), Is.EqualTo("alice@example.com"));
            Assert.That(user["profile_picture"], Is.Null);
        });
    }

    [Test]
    public async Task RegisterTokenAuthenticatesTheNewUser()
    {
        using var client = App.CreateClient();
        var body = await (await client.RegisterAsync(new JsonObject { ["username"] = "alice", ["password"] = "password123" })).JsonAsync(201);

        using var authed = App.CreateClient(body.Str("token"));
        var me = await (await authed.GetAsync("/api/users/me")).JsonAsync(200);
        Assert.That(me.Str("username"), Is.EqualTo("alice"));
    }

    [Test]
    public async Task RegisterWithoutFullNameOrEmailFallsBackToUsernameAndEmptyEmail()
    {
        using var client = App.CreateClient();
        var body = await (await client.RegisterAsync(new JsonObject { ["username"] = "bob_99", ["password"] = "password123" })).JsonAsync(201);

        var user = body["user"]!.AsObject();
        FrameAssert.HasExactKeys(user, FrameAssert.UserKeys);
        Assert.Multiple(() =>
        {
            Assert.That(user.Str("full_name"), Is.EqualTo("bob_99"));
            Assert.That(user.Str("email"), Is.EqualTo(""));
            Assert.That(user["profile_picture"], Is.Null);
        });
    }

    [Test]
    public async Task RegisterWithTakenUsernameIgnoringCaseIs409UsernameTaken()
    {
        await App.RegisterAsync("Alice");
        using var client = App.CreateClient();

        var same = await client.RegisterAsync(new JsonObject { ["username"] = "Alice", ["password"] = "password123" });
        await same.AssertProblemAsync(409, "username_taken");
        var otherCase = await client.RegisterAsync(new JsonObject { ["username"] = "aLICE", ["password"] = "different-pass" });
        await otherCase.AssertProblemAsync(409, "username_taken");
    }

    [Test]
    public async Task UsernameIsKeptAsTypedEverywhere()
    {
        var registered = await App.RegisterAsync("MiXeD.Case-1");
        using var client = App.CreateClient();

        var login = await (await client.LoginAsync("mixed.case-1", registered.Password)).JsonAsync(200);
        Assert.That(login["user"]!.AsObject().Str("username"), Is.EqualTo("MiXeD.Case-1"));
        var me = await registered.GetAsync("/api/users/me");
        Assert.That(me.Str("username"), Is.EqualTo("MiXeD.Case-1"));
    }

    [Test]
    public async Task LoginIs200WithTokenAndUserObject()
    {
        await App.RegisterAsync("alice", "Alice Liddell", "alice@example.com", password: "correct horse");
        using var client = App.CreateClient();

        var body = await (await client.LoginAsync("alice", "correct horse")).JsonAsync(200);

        FrameAssert.HasExactKeys(body, HttpApi.AuthResponseKeys);
        var user = body["user"]!.AsObject();
        FrameAssert.HasExactKeys(user, FrameAssert.UserKeys);
        Assert.That(user.Str("username"), Is.EqualTo("alice"));
        Assert.That(user.Str("full_name"), Is.EqualTo("Alice Liddell"));
        Assert.That(user.Str("email"), Is.EqualTo("alice@example.com"));
        using var authed = App.CreateClient(body.Str("token"));
        Assert.That((int)(await authed.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(200));
    }

    [Test]
    public async Task LoginWithUsernameInOtherCaseSucceeds()
    {
        await App.RegisterAsync("alice");
        using var client = App.CreateClient();

        var body = await (await client.LoginAsync("ALICE", "password123")).JsonAsync(200);

        Assert.That(body["user"]!.AsObject().Str("username"), Is.EqualTo("alice"));
    }

    [Test]
    public async Task EachLoginIssuesADistinctWorkingToken()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = App.CreateClient();

        var first = (await (await client.LoginAsync("alice", alice.Password)).JsonAsync(200)).Str("token");
        var second = (await (await client.LoginAsync("alice", alice.Password)).JsonAsync(200)).Str("token");

        Assert.That(new[] { alice.Token, first, second }, Is.Unique);
        foreach (var token in new[] { alice.Token, first, second })
        {
            using var authed = App.CreateClient(token);
            Assert.That((int)(await authed.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(200));
        }
    }

    [Test]
    public async Task LoginWithWrongPasswordIs401InvalidCredentials()
    {
        await App.RegisterAsync("alice", password: "password123");
        using var client = App.CreateClient();

        await (await client.LoginAsync("alice", "password124")).AssertProblemAsync(401, "invalid_credentials");
    }

    [Test]
    public async Task LoginWithUnknownUserIs401InvalidCredentials()
    {
        await App.RegisterAsync("alice");
        using var client = App.CreateClient();

        await (await client.LoginAsync("nobody", "password123")).AssertProblemAsync(401, "invalid_credentials");
    }

    [Test]
    public async Task LogoutIs204AndTheTokenThenGets401Unauthorized()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();
        Assert.That((int)(await client.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(200));

        var logout = await client.PostAsync("/api/auth/logout", null);
        Assert.That((int)logout.StatusCode, Is.EqualTo(204));
        Assert.That(await logout.Content.ReadAsStringAsync(), Is.Empty);

        await (await client.GetAsync("/api/users/me")).AssertProblemAsync(401, "unauthorized");
        await (await client.PostAsync("/api/auth/logout", null)).AssertProblemAsync(401, "unauthorized");
    }

    [Test]
    public async Task LogoutRevokesOnlyTheTokenItWasCalledWith()
    {
        var alice = await App.RegisterAsync("alice");
        using var anon = App.CreateClient();
        var other = (await (await anon.LoginAsync("alice", alice.Password)).JsonAsync(200)).Str("token");

        using (var client = alice.Client())
            Assert.That((int)(await client.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(204));

        using var otherClient = App.CreateClient(other);
        Assert.That((int)(await otherClient.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(200));
    }

    [Test]
    public async Task LoginAfterLogoutIssuesAWorkingToken()
    {
        var alice = await App.RegisterAsync("alice");
        using (var client = alice.Client())
            Assert.That((int)(await client.PostAsync("/api/auth/logout", null)).StatusCode, Is.EqualTo(204));

        using var anon = App.CreateClient();
        var token = (await (await anon.LoginAsync("ALICE", alice.Password)).JsonAsync(200)).Str("token");
        using var authed = App.CreateClient(token);
        Assert.That((int)(await authed.GetAsync("/api/users/me")).StatusCode, Is.EqualTo(200));
    }

    [Test]
    public async Task ExpiredTokenIs401Unauthorized()
    {
        await RestartWithAsync(new Dictionary<string, string?> { ["Chat:TokenLifetime"] = "00:00:01" });
        var alice = await App.RegisterAsync("alice");

        await Task.Delay(TimeSpan.FromSeconds(2.2));

        using var client = alice.Client();
        await (await client.GetAsync("/api/users/me")).AssertProblemAsync(401, "unauthorized");
    }
}
