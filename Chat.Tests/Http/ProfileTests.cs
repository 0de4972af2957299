using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>GET and PATCH /api/users/me.</summary>
public sealed class ProfileTests : ApiTestBase
{
    [Test]
    public async Task GetMeReturnsTheUserObject()
    {
        var alice = await App.RegisterAsync("Alice", "Alice Liddell", "alice@example.com");

        var me = await alice.GetAsync("/api/users/me");

        FrameAssert.HasExactKeys(me, FrameAssert.UserKeys);
        Assert.Multiple(() =>
        {
            Assert.That(me.Str("username"), Is.EqualTo("Alice"));
            Assert.That(me.Str("full_name"), Is.EqualTo("Alice Liddell"));
            Assert.That(me.Str("email"), Is.EqualTo("alice@example.com"));
            Assert.That(me["profile_picture"], Is.Null);
        });
    }

    [Test]
    public async Task PatchMeUpdatesFullNameAndEmailAndReturnsTheUserObject()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();

        var patched = await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = "Alice L.", ["email"] = "al@example.org" })).JsonAsync(200);

        FrameAssert.HasExactKeys(patched, FrameAssert.UserKeys);
        Assert.That(patched.Str("full_name"), Is.EqualTo("Alice L."));
        Assert.That(patched.Str("email"), Is.EqualTo("al@example.org"));
        var me = await alice.GetAsync("/api/users/me");
        Assert.That(me.Str("full_name"), Is.EqualTo("Alice L."));
        Assert.That(me.Str("email"), Is.EqualTo("al@example.org"));
    }

    [Test]
    public async Task PatchMeWithEmptyStringsClearsFullNameAndEmail()
    {
        var alice = await App.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        using var client = alice.Client();

        var patched = await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = "", ["email"] = "" })).JsonAsync(200);

        Assert.That(patched.Str("full_name"), Is.EqualTo("alice"), "a cleared full name falls back to the username");
        Assert.That(patched.Str("email"), Is.EqualTo(""));
        var me = await alice.GetAsync("/api/users/me");
        Assert.That(me.Str("full_name"), Is.EqualTo("alice"));
        Assert.That(me.Str("email"), Is.EqualTo(""));
    }

    [Test]
    public async Task PatchMeLeavesOmittedFieldsUnchanged()
    {
        var alice = await App.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        using var client = alice.Client();

        var nameOnly = await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = "Alice Two" })).JsonAsync(200);
        Assert.That(nameOnly.Str("email"), Is.EqualTo("alice@example.com"));
        Assert.That(nameOnly.Str("full_name"), Is.EqualTo("Alice Two"));

        var emailOnly = await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["email"] = "two@example.com" })).JsonAsync(200);
        Assert.That(emailOnly.Str("full_name"), Is.EqualTo("Alice Two"));
        Assert.That(emailOnly.Str("email"), Is.EqualTo("two@example.com"));

        var nothing = await (await client.PatchJsonAsync("/api/users/me", new JsonObject())).JsonAsync(200);
        Assert.That(nothing.Str("full_name"), Is.EqualTo("Alice Two"));
        Assert.That(nothing.Str("email"), Is.EqualTo("two@example.com"));
    }

    [Test]
    public async Task PatchMeChangesWhatOthersSee()
    {
        var alice = await App.RegisterAsync("alice", "Alice Liddell");
        var bob = await App.RegisterAsync("bob");
        using var client = alice.Client();
        await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = "Wonder Land" })).JsonAsync(200);

        var byNewWord = (await bob.GetAsync("/api/users/search?q=wonder"))["results"]!.AsArray();
        var byOldWord = (await bob.GetAsync("/api/users/search?q=liddell"))["results"]!.AsArray();

        Assert.That(byNewWord.Select(u => u!["full_name"]!.GetValue<string>()), Is.EqualTo(new[] { "Wonder Land" }));
        Assert.That(byOldWord, Is.Empty);
    }

    [TestCase("""{"email": "not-an-email"}""", TestName = "PatchMeWithBadEmailIs400BadRequest")]
    [TestCase("""{"full_name": 5}""", TestName = "PatchMeWithNumericFullNameIs400BadRequest")]
    [TestCase("""{"email": true}""", TestName = "PatchMeWithBooleanEmailIs400BadRequest")]
    [TestCase("""{"full_name": """, TestName = "PatchMeWithMalformedJsonIs400BadRequest")]
    [TestCase("""{"email": "alice2@example.com\n"}""", TestName = "PatchMeWithEmailEndingInNewlineIs400BadRequest")]
    [TestCase("""{"email": "alice2@example.com\r\n"}""", TestName = "PatchMeWithEmailEndingInCrLfIs400BadRequest")]
    [TestCase("""{"email": "al\ud83dice2@example.com"}""", TestName = "PatchMeWithEmailContainingALoneSurrogateIs400BadRequest")]
    [TestCase("""{"full_name": "Alice \ud83d"}""", TestName = "PatchMeWithFullNameContainingALoneSurrogateIs400BadRequest")]
    public async Task PatchMeWithInvalidBodyIs400BadRequestAndChangesNothing(string json)
    {
        var alice = await App.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        using var client = alice.Client();

        await (await client.SendRawJsonAsync(HttpMethod.Patch, "/api/users/me", json)).AssertProblemAsync(400, "bad_request");

        var me = await alice.GetAsync("/api/users/me");
        Assert.That(me.Str("full_name"), Is.EqualTo("Alice Liddell"));
        Assert.That(me.Str("email"), Is.EqualTo("alice@example.com"));
    }

    [TestCase("N", TestName = "PatchMeWithFullNameOf101CharactersIs400BadRequest")]
    [TestCase(TextSamples.Emoji, TestName = "PatchMeWithFullNameOf101EmojiIs400BadRequest")]
    public async Task PatchMeWithFullNameOf101CharactersIs400BadRequest(string unit)
    {
        var alice = await App.RegisterAsync("alice", "Alice Liddell");
        using var client = alice.Client();

        await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = TextSamples.Repeat(unit, 101) })).AssertProblemAsync(400, "bad_request");

        Assert.That((await alice.GetAsync("/api/users/me")).Str("full_name"), Is.EqualTo("Alice Liddell"));
    }

    [Test]
    public async Task PatchMeAcceptsFullNameOf100EmojiAndEmailOf254CharactersOfWhich242Emoji()
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();
        var fullName = TextSamples.Repeat(TextSamples.Emoji, 100);
        var email = TextSamples.Email(TextSamples.Emoji, 254);

        var patched = await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = fullName, ["email"] = email })).JsonAsync(200);

        Assert.That((patched.Str("full_name"), patched.Str("email")), Is.EqualTo((fullName, email)));
        await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["email"] = TextSamples.Email(TextSamples.Emoji, 255) })).AssertProblemAsync(400, "bad_request");
    }
}
