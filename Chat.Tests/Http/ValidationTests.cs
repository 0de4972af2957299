using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>Field rules and malformed bodies: all 400 <c>bad_request</c> problem details (contract section 2, Rules).</summary>
public sealed class ValidationTests : ApiTestBase
{
    private static JsonObject Register(string username = "alice", string password = "password123") =>
        new() { ["username"] = username, ["password"] = password };

    [TestCase("ab", TestName = "RegisterWithUsernameOf2CharactersIs400BadRequest")]
    [TestCase("abcdefghijklmnopqrstuvwxyz0123456", TestName = "RegisterWithUsernameOf33CharactersIs400BadRequest")]
    [TestCase("has space", TestName = "RegisterWithUsernameContainingSpaceIs400BadRequest")]
    [TestCase("bad!name", TestName = "RegisterWithUsernameContainingPunctuationIs400BadRequest")]
    [TestCase("al@ice", TestName = "RegisterWithUsernameContainingAtSignIs400BadRequest")]
    [TestCase("jürgen", TestName = "RegisterWithUsernameContainingNonAsciiLetterIs400BadRequest")]
    [TestCase("", TestName = "RegisterWithEmptyUsernameIs400BadRequest")]
    public async Task RegisterWithInvalidUsernameIs400BadRequest(string username)
    {
        using var client = App.CreateClient();
        await (await client.RegisterAsync(Register(username))).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("abc")]
    [TestCase("abcdefghijklmnopqrstuvwxyz012345")]
    [TestCase("A-Z_a.z09")]
    public async Task RegisterAcceptsUsernamesOf3To32AllowedCharacters(string username)
    {
        using var client = App.CreateClient();
        var body = await (await client.RegisterAsync(Register(username))).JsonAsync(201);
        Assert.That(body["user"]!.AsObject().Str("username"), Is.EqualTo(username));
    }

    [TestCase("p", 7, TestName = "RegisterWithPasswordOf7CharactersIs400BadRequest")]
    [TestCase("p", 129, TestName = "RegisterWithPasswordOf129CharactersIs400BadRequest")]
    [TestCase(TextSamples.Emoji, 7, TestName = "RegisterWithPasswordOf7EmojiIs400BadRequest")]
    [TestCase(TextSamples.Emoji, 129, TestName = "RegisterWithPasswordOf129EmojiIs400BadRequest")]
    public async Task RegisterWithPasswordOutsideLimitsIs400BadRequest(string unit, int length)
    {
        using var client = App.CreateClient();
        await (await client.RegisterAsync(Register(password: TextSamples.Repeat(unit, length)))).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("p", 8, TestName = "RegisterAcceptsPasswordOf8CharactersAndItLogsIn")]
    [TestCase("p", 128, TestName = "RegisterAcceptsPasswordOf128CharactersAndItLogsIn")]
    [TestCase(TextSamples.Emoji, 8, TestName = "RegisterAcceptsPasswordOf8EmojiAndItLogsIn")]
    [TestCase(TextSamples.Emoji, 128, TestName = "RegisterAcceptsPasswordOf128EmojiAndItLogsIn")]
    public async Task RegisterAcceptsPasswordsOf8To128CharactersAndTheyLogIn(string unit, int length)
    {
        using var client = App.CreateClient();
        var password = TextSamples.Repeat(unit, length);
        await (await client.RegisterAsync(Register(password: password))).JsonAsync(201);
        await (await client.LoginAsync("alice", password)).JsonAsync(200);
    }

    [TestCase("full_name", "n", 101, TestName = "RegisterWithFullNameOf101CharactersIs400BadRequest")]
    [TestCase("full_name", TextSamples.Emoji, 101, TestName = "RegisterWithFullNameOf101EmojiIs400BadRequest")]
    [TestCase("email", TextSamples.Emoji, 255, TestName = "RegisterWithEmailOf255CharactersOfWhich243EmojiIs400BadRequest")]
    public async Task RegisterWithFieldOverItsLongestIs400BadRequest(string field, string unit, int length)
    {
        using var client = App.CreateClient();
        var body = Register();
        body[field] = OfLength(field, unit, length);
        await (await client.RegisterAsync(body)).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("full_name", "n", 100, TestName = "RegisterAcceptsFullNameOf100Characters")]
    [TestCase("full_name", TextSamples.Emoji, 100, TestName = "RegisterAcceptsFullNameOf100Emoji")]
    [TestCase("email", "a", 254, TestName = "RegisterAcceptsEmailOf254Characters")]
    [TestCase("email", TextSamples.Emoji, 254, TestName = "RegisterAcceptsEmailOf254CharactersOfWhich242Emoji")]
    public async Task RegisterAcceptsFieldsAtTheirLongest(string field, string unit, int length)
    {
        using var client = App.CreateClient();
        var body = Register();
        body[field] = OfLength(field, unit, length);
        var user = (await (await client.RegisterAsync(body)).JsonAsync(201))["user"]!.AsObject();
        Assert.That(user.Str(field), Is.EqualTo(OfLength(field, unit, length)));
    }

    /// <summary>A value of <paramref name="length"/> code points for <paramref name="field"/>, made of <paramref name="unit"/>.</summary>
    private static string OfLength(string field, string unit, int length) =>
        field == "email" ? TextSamples.Email(unit, length) : TextSamples.Repeat(unit, length);

    // A pattern matches the whole value (.NET's "$" also matches before a final "\n", so "alice\n" once registered as
    // a second account beside "alice"), and text that is not well-formed UTF-16 is refused whatever its length.
    [TestCase("username", "alice\n", TestName = "RegisterWithUsernameEndingInNewlineIs400BadRequest")]
    [TestCase("username", "alice\r\n", TestName = "RegisterWithUsernameEndingInCrLfIs400BadRequest")]
    [TestCase("username", "\nalice", TestName = "RegisterWithUsernameStartingWithNewlineIs400BadRequest")]
    [TestCase("email", "alice@example.com\n", TestName = "RegisterWithEmailEndingInNewlineIs400BadRequest")]
    [TestCase("email", "alice@example.com\r\n", TestName = "RegisterWithEmailEndingInCrLfIs400BadRequest")]
    [TestCase("email", "alice@exam\u0000ple.com", TestName = "RegisterWithEmailContainingAControlCharacterIs400BadRequest")]
    [TestCase("email", "al" + TextSamples.LoneSurrogate + "ice@example.com", TestName = "RegisterWithEmailContainingALoneSurrogateIs400BadRequest")]
    [TestCase("password", "password" + TextSamples.LoneSurrogate, TestName = "RegisterWithPasswordContainingALoneSurrogateIs400BadRequest")]
    [TestCase("full_name", "Alice " + TextSamples.LoneSurrogate, TestName = "RegisterWithFullNameContainingALoneSurrogateIs400BadRequest")]
    public async Task RegisterWithFieldThatDoesNotMatchItsRuleAsAWholeIs400BadRequest(string field, string value)
    {
        using var client = App.CreateClient();
        var body = Register();
        body[field] = value;
        await (await client.RegisterRawAsync(TextSamples.ToRawJson(body))).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("not-an-email")]
    [TestCase("alice@")]
    [TestCase("@example.com")]
    [TestCase("alice@example")]
    [TestCase("al ice@example.com")]
    [TestCase("a@b@example.com")]
    public async Task RegisterWithBadEmailIs400BadRequest(string email)
    {
        using var client = App.CreateClient();
        var body = Register();
        body["email"] = email;
        await (await client.RegisterAsync(body)).AssertProblemAsync(400, "bad_request");
    }

    [Test]
    public async Task RegisterWithEmailOver254CharactersIs400BadRequest()
    {
        using var client = App.CreateClient();
        var body = Register();
        body["email"] = new string('a', 64) + "@" + new string('b', 186) + ".com"; // 255 characters
        Assert.That(body.Str("email"), Has.Length.EqualTo(255));
        await (await client.RegisterAsync(body)).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("""{"username": 5, "password": "password123"}""", TestName = "RegisterWithNumericUsernameIs400BadRequest")]
    [TestCase("""{"username": "alice", "password": 12345678}""", TestName = "RegisterWithNumericPasswordIs400BadRequest")]
    [TestCase("""{"username": "alice", "password": "password123", "full_name": 5}""", TestName = "RegisterWithNumericFullNameIs400BadRequest")]
    [TestCase("""{"username": "alice", "password": "password123", "email": ["a@b.c"]}""", TestName = "RegisterWithArrayEmailIs400BadRequest")]
    [TestCase("""{"username": ["alice"], "password": "password123"}""", TestName = "RegisterWithArrayUsernameIs400BadRequest")]
    [TestCase("""{"username": null, "password": "password123"}""", TestName = "RegisterWithNullUsernameIs400BadRequest")]
    public async Task RegisterWithWrongJsonTypeIs400BadRequest(string json)
    {
        using var client = App.CreateClient();
        await (await client.RegisterRawAsync(json)).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("{", TestName = "RegisterWithTruncatedJsonIs400BadRequest")]
    [TestCase("not json", TestName = "RegisterWithNonJsonBodyIs400BadRequest")]
    [TestCase("", TestName = "RegisterWithEmptyBodyIs400BadRequest")]
    [TestCase("null", TestName = "RegisterWithJsonNullBodyIs400BadRequest")]
    [TestCase("[]", TestName = "RegisterWithJsonArrayBodyIs400BadRequest")]
    [TestCase("""{"username": "alice", "password": "password123",}""", TestName = "RegisterWithTrailingCommaIs400BadRequest")]
    public async Task RegisterWithMalformedJsonIs400BadRequest(string json)
    {
        using var client = App.CreateClient();
        await (await client.RegisterRawAsync(json)).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("""{"password": "password123"}""", TestName = "RegisterWithoutUsernameIs400BadRequest")]
    [TestCase("""{"username": "alice"}""", TestName = "RegisterWithoutPasswordIs400BadRequest")]
    [TestCase("{}", TestName = "RegisterWithEmptyObjectIs400BadRequest")]
    public async Task RegisterWithMissingRequiredFieldIs400BadRequest(string json)
    {
        using var client = App.CreateClient();
        await (await client.RegisterRawAsync(json)).AssertProblemAsync(400, "bad_request");
    }

    [TestCase("""{"password": "password123"}""", TestName = "LoginWithoutUsernameIs400BadRequest")]
    [TestCase("""{"username": "alice"}""", TestName = "LoginWithoutPasswordIs400BadRequest")]
    [TestCase("""{"username": 5, "password": "password123"}""", TestName = "LoginWithNumericUsernameIs400BadRequest")]
    [TestCase("{", TestName = "LoginWithMalformedJsonIs400BadRequest")]
    public async Task LoginWithMalformedBodyIs400BadRequest(string json)
    {
        await App.RegisterAsync("alice");
        using var client = App.CreateClient();
        await (await client.PostRawJsonAsync("/api/auth/login", json)).AssertProblemAsync(400, "bad_request");
    }

    [Test]
    public async Task RejectedRegistrationCreatesNoUser()
    {
        using var client = App.CreateClient();
        await (await client.RegisterAsync(Register(password: "short"))).AssertProblemAsync(400, "bad_request");

        await (await client.RegisterAsync(Register())).JsonAsync(201);
    }

    [TestCase("/api/users/search?q=a&limit=0", TestName = "SearchWithLimit0Is400BadRequest")]
    [TestCase("/api/users/search?q=a&limit=-1", TestName = "SearchWithNegativeLimitIs400BadRequest")]
    [TestCase("/api/users/search?q=a&limit=ten", TestName = "SearchWithNonNumericLimitIs400BadRequest")]
    [TestCase("/api/conversations?limit=0", TestName = "ConversationsWithLimit0Is400BadRequest")]
    [TestCase("/api/conversations?limit=-5", TestName = "ConversationsWithNegativeLimitIs400BadRequest")]
    [TestCase("/api/conversations?limit=1.5", TestName = "ConversationsWithFractionalLimitIs400BadRequest")]
    public async Task LimitBelow1OrMalformedIs400BadRequest(string path)
    {
        var alice = await App.RegisterAsync("alice");
        using var client = alice.Client();
        await (await client.GetAsync(path)).AssertProblemAsync(400, "bad_request");
    }

    [Test]
    public async Task HistoryWithLimit0Is400BadRequest()
    {
        var alice = await App.RegisterAsync("alice");
        await App.RegisterAsync("bob");
        var sent = await alice.SendAsync("bob", "hi");
        using var client = alice.Client();

        await (await client.GetAsync($"/api/conversations/{sent.Long("conversation_id")}/messages?limit=0"))
            .AssertProblemAsync(400, "bad_request");
    }

    [Test]
    public async Task LimitAboveMaximumIsClampedNotAnError()
    {
        var alice = await App.RegisterAsync("alice");
        await App.RegisterAsync("bob");
        var sent = await alice.SendAsync("bob", "hi");
        using var client = alice.Client();

        var search = await (await client.GetAsync("/api/users/search?q=b&limit=1000")).JsonAsync(200);
        Assert.That(search["results"]!.AsArray().Select(u => u!["username"]!.GetValue<string>()), Is.EqualTo(new[] { "bob" }));
        var conversations = await (await client.GetAsync("/api/conversations?limit=1000")).JsonAsync(200);
        Assert.That(conversations["conversations"]!.AsArray(), Has.Count.EqualTo(1));
        var history = await (await client.GetAsync($"/api/conversations/{sent.Long("conversation_id")}/messages?limit=99999999999999999999")).JsonAsync(200);
        Assert.That(history["messages"]!.AsArray(), Has.Count.EqualTo(1));
    }
}
