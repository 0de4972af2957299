using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Http;

/// <summary>GET /api/users/search (contract section 2, Search).</summary>
public sealed class SearchTests : ApiTestBase
{
    private TestUser _searcher = null!;

    [SetUp]
    public async Task RegisterSearcher() => _searcher = await App.RegisterAsync("zz_searcher", "Zed Searcher", "searcher@example.com");

    private async Task<List<JsonObject>> SearchAsync(string q, string extra = "")
    {
        var body = await _searcher.GetAsync($"/api/users/search?q={Uri.EscapeDataString(q)}{extra}");
        FrameAssert.HasExactKeys(body, ["results"]);
        return body["results"]!.AsArray().Select(r => r!.AsObject()).ToList();
    }

    private static List<string> Names(List<JsonObject> results) => results.Select(r => r.Str("username")).ToList();

    [Test]
    public async Task SearchMatchesUsernamePrefix()
    {
        await App.RegisterAsync("purnaacharya", "Purna Acharya");
        await App.RegisterAsync("purple");
        await App.RegisterAsync("sishir");

        Assert.That(Names(await SearchAsync("purn")), Is.EqualTo(new[] { "purnaacharya" }));
        Assert.That(Names(await SearchAsync("pur")), Is.EqualTo(new[] { "purnaacharya", "purple" }));
    }

    [Test]
    public async Task SearchDoesNotMatchTheMiddleOfAUsername()
    {
        await App.RegisterAsync("purnaacharya");

        Assert.That(await SearchAsync("acharya"), Is.Empty);
    }

    [Test]
    public async Task SearchMatchesFullNamePrefix()
    {
        await App.RegisterAsync("usr1", "Purna Acharya");
        await App.RegisterAsync("usr2", "Sishir Bhusal");

        Assert.That(Names(await SearchAsync("Purna Ach")), Is.EqualTo(new[] { "usr1" }));
        Assert.That(Names(await SearchAsync("Pur")), Is.EqualTo(new[] { "usr1" }));
    }

    [Test]
    public async Task SearchMatchesPrefixOfAnyWordOfTheFullName()
    {
        await App.RegisterAsync("usr1", "Purna Devi Acharya");
        await App.RegisterAsync("usr2", "Sishir Bhusal");

        Assert.That(Names(await SearchAsync("dev")), Is.EqualTo(new[] { "usr1" }));
        Assert.That(Names(await SearchAsync("achar")), Is.EqualTo(new[] { "usr1" }));
        Assert.That(Names(await SearchAsync("bhu")), Is.EqualTo(new[] { "usr2" }));
        Assert.That(await SearchAsync("evi"), Is.Empty, "a word is matched by its prefix, not its middle");
    }

    [Test]
    public async Task SearchMatchesExactEmail()
    {
        await App.RegisterAsync("usr1", email: "purna@example.com");
        await App.RegisterAsync("usr2", email: "other@example.com");

        Assert.That(Names(await SearchAsync("purna@example.com")), Is.EqualTo(new[] { "usr1" }));
    }

    [Test]
    public async Task SearchDoesNotMatchEmailPrefix()
    {
        await App.RegisterAsync("usr1", email: "purna@example.com");

        Assert.That(await SearchAsync("purna@"), Is.Empty);
        Assert.That(await SearchAsync("purna@example"), Is.Empty);
    }

    [Test]
    public async Task SearchIgnoresCaseOfUsernameFullNameAndEmail()
    {
        await App.RegisterAsync("PurnaAcharya", "Purna Acharya", "Purna@Example.com");
        await App.RegisterAsync("usr2", "Xavier Bhusal", "x@example.com");

        Assert.That(Names(await SearchAsync("PURNAa")), Is.EqualTo(new[] { "PurnaAcharya" }));
        Assert.That(Names(await SearchAsync("aCHAR")), Is.EqualTo(new[] { "PurnaAcharya" }));
        Assert.That(Names(await SearchAsync("BHUSAL")), Is.EqualTo(new[] { "usr2" }));
        Assert.That(Names(await SearchAsync("purna@EXAMPLE.COM")), Is.EqualTo(new[] { "PurnaAcharya" }));
    }

    // "Ignoring case" is Unicode case folding and is blind to normalization: the index and the query are both folded
    // with NFKC_Casefold (full folding: ß is ss), and names are stored and returned as typed.
    [TestCase("Σωκρατης Παππας", "ΣΩΚΡΑΤΗΣ", TestName = "SearchInGreekCapitalsFindsAFullNameWithFinalSigma")]
    [TestCase("ΣΩΚΡΑΤΗΣ ΠΑΠΠΑΣ", "σωκρατης", TestName = "SearchWithFinalSigmaFindsAFullNameInGreekCapitals")]
    [TestCase("Νίκος Παππάς", "ΠΑΠΠΆΣ", TestName = "SearchInGreekCapitalsFindsALaterWordWithFinalSigma")]
    [TestCase("Zo\u00EB Martin", "zoe\u0308", TestName = "SearchDecomposedFindsPrecomposed")]
    [TestCase("Zoe\u0308 Martin", "ZO\u00CB", TestName = "SearchPrecomposedFindsDecomposed")]
    [TestCase("Johann Strau\u00DF", "strauss", TestName = "SearchWithSsFindsSharpS")]
    [TestCase("Johann Strauss", "STRAU\u00DF", TestName = "SearchWithSharpSFindsSs")]
    [TestCase("Johann Strau\u00DF", "STRAU\u1E9E", TestName = "SearchWithCapitalSharpSFindsSharpS")]
    [TestCase("\uFF21\uFF4E\uFF4E\uFF41 Kowalska", "anna", TestName = "SearchFindsFullWidthLettersByTheirCompatibilityForm")]
    [TestCase("Anna\u00A0Maria Kowalska", "anna maria", TestName = "SearchFindsAPhraseJoinedByANoBreakSpace")]
    [TestCase("Anna\u3000Maria\tKowalska", "kowal", TestName = "SearchSplitsFullNamesAtAnyUnicodeWhiteSpace")]
    [TestCase("Anna Maria Kowalska", "anna\u3000mar", TestName = "SearchTreatsAnyWhiteSpaceInTheQueryAsOneSpace")]
    public async Task SearchFoldsCaseAndNormalizationAsUnicodeDoes(string fullName, string query)
    {
        await App.RegisterAsync("target", fullName);
        await App.RegisterAsync("other", "Nobody Else");

        var results = await SearchAsync(query);

        Assert.That(Names(results), Is.EqualTo(new[] { "target" }));
        Assert.That(results[0].Str("full_name"), Is.EqualTo(fullName), "stored and returned as typed");
    }

    [TestCase("zo\u00EB@example.com", "ZOE\u0308@EXAMPLE.COM", TestName = "SearchByEmailIgnoresNormalizationAndCase")]
    [TestCase("strau\u00DF@example.com", "STRAUSS@example.com", TestName = "SearchByEmailFoldsSharpS")]
    public async Task SearchByEmailFoldsAsTheIndexDoes(string email, string query)
    {
        await App.RegisterAsync("target", email: email);
        await App.RegisterAsync("other", email: "other@example.com");

        Assert.That(Names(await SearchAsync(query)), Is.EqualTo(new[] { "target" }));
    }

    [Test]
    public async Task SearchFindsANameAndEmailSetByProfileUpdateByTheirFoldedForms()
    {
        var target = await App.RegisterAsync("target", "Old Name", "old@example.com");
        using (var client = target.Client())
            await (await client.PatchJsonAsync("/api/users/me", new JsonObject { ["full_name"] = "Σωκρατης Strau\u00DF", ["email"] = "zo\u00EB@example.com" })).JsonAsync(200);

        Assert.That(Names(await SearchAsync("ΣΩΚΡΑΤΗΣ")), Is.EqualTo(new[] { "target" }));
        Assert.That(Names(await SearchAsync("strauss")), Is.EqualTo(new[] { "target" }));
        Assert.That(Names(await SearchAsync("zoe\u0308@example.com")), Is.EqualTo(new[] { "target" }));
        Assert.That(await SearchAsync("old"), Is.Empty);
    }

    [Test]
    public async Task SearchLeavesOutTheSearcher()
    {
        await App.RegisterAsync("zz_other", "Zed Other");

        Assert.That(Names(await SearchAsync("zz_")), Is.EqualTo(new[] { "zz_other" }));
        Assert.That(Names(await SearchAsync("zed")), Is.EqualTo(new[] { "zz_other" }));
        Assert.That(await SearchAsync("searcher@example.com"), Is.Empty);
    }

    [Test]
    public async Task SearchResultsAreOrderedByUsername()
    {
        foreach (var name in new[] { "mike", "mbert", "mzed", "maria", "moe" }) await App.RegisterAsync(name);

        Assert.That(Names(await SearchAsync("m")), Is.EqualTo(new[] { "maria", "mbert", "mike", "moe", "mzed" }));
    }

    [Test]
    public async Task SearchReturnsEachMatchingUserOnce()
    {
        // Matches by username, full name and a word of it at once.
        await App.RegisterAsync("sam", "Sam Samson", "sam@example.com");

        Assert.That(Names(await SearchAsync("sam")), Is.EqualTo(new[] { "sam" }));
    }

    [Test]
    public async Task SearchResultsAreUserObjects()
    {
        await App.RegisterAsync("alice", "Alice Liddell", "alice@example.com");
        await App.RegisterAsync("alan");

        var results = await SearchAsync("al");

        Assert.That(results, Has.Count.EqualTo(2));
        foreach (var r in results) FrameAssert.HasExactKeys(r, FrameAssert.UserKeys);
        Assert.That(results[0].Str("full_name"), Is.EqualTo("alan"));
        Assert.That(results[0].Str("email"), Is.EqualTo(""));
        Assert.That(results[1].Str("full_name"), Is.EqualTo("Alice Liddell"));
        Assert.That(results[1].Str("email"), Is.EqualTo("alice@example.com"));
    }

    [Test]
    public async Task SearchResultsCarryProfilePicture()
    {
        var withPicture = await App.RegisterAsync("pic_user");
        await App.RegisterAsync("pic_none");
        using (var client = withPicture.Client())
            await (await client.PutAsync("/api/users/me/avatar", HttpApi.Bytes(HttpApi.Images.Png(), "image/png"))).JsonAsync(200);

        var results = await SearchAsync("pic_");

        Assert.That(Names(results), Is.EqualTo(new[] { "pic_none", "pic_user" }));
        Assert.That(results[0]["profile_picture"], Is.Null);
        Assert.That(results[1].Str("profile_picture"), Does.Match(@"^/api/users/pic_user/avatar\?v=\d+$"));
    }

    [Test]
    public async Task SearchLimitDefaultsTo20()
    {
        await RegisterManyAsync("bulk", 60);

        var results = await SearchAsync("bulk");

        Assert.That(Names(results), Is.EqualTo(Expected("bulk", 20)));
    }

    [Test]
    public async Task SearchLimitIsHonoured()
    {
        await RegisterManyAsync("bulk", 10);

        Assert.That(Names(await SearchAsync("bulk", "&limit=3")), Is.EqualTo(Expected("bulk", 3)));
    }

    [Test]
    public async Task SearchLimitAbove50IsClampedTo50()
    {
        await RegisterManyAsync("bulk", 60);

        Assert.That(Names(await SearchAsync("bulk", "&limit=1000")), Is.EqualTo(Expected("bulk", 50)));
        Assert.That(Names(await SearchAsync("bulk", "&limit=51")), Is.EqualTo(Expected("bulk", 50)));
    }

    [Test]
    public async Task SearchTreatsUnderscoreInQueryLiterally()
    {
        await App.RegisterAsync("a_b");
        await App.RegisterAsync("axb");
        await App.RegisterAsync("ab_c");

        Assert.That(Names(await SearchAsync("a_")), Is.EqualTo(new[] { "a_b" }));
    }

    [Test]
    public async Task SearchTreatsPercentInQueryLiterally()
    {
        await App.RegisterAsync("abc", "Alpha Beta");
        await App.RegisterAsync("a_b");

        Assert.That(await SearchAsync("a%"), Is.Empty);
        Assert.That(await SearchAsync("%"), Is.Empty);
    }

    [Test]
    public async Task SearchFindsFullNameContainingPercentByItsLiteralPrefix()
    {
        await App.RegisterAsync("usr1", "100% Real");
        await App.RegisterAsync("usr2", "1000 Fake");

        Assert.That(Names(await SearchAsync("100%")), Is.EqualTo(new[] { "usr1" }));
    }

    [Test]
    public async Task SearchWithSqlMetacharactersIsLiteralAndMatchesNobody()
    {
        await App.RegisterAsync("alice");

        // Must neither error nor match everyone.
        Assert.That(await SearchAsync("' OR '1'='1"), Is.Empty);
        Assert.That(await SearchAsync("\" OR 1=1 --"), Is.Empty);
    }

    private async Task RegisterManyAsync(string prefix, int count)
    {
        foreach (var name in Expected(prefix, count).Reverse()) await App.RegisterAsync(name);
    }

    private static IEnumerable<string> Expected(string prefix, int count) =>
        Enumerable.Range(0, count).Select(i => $"{prefix}{i:D2}");
}
