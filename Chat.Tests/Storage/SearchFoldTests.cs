using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Chat.Server.Storage;
using Chat.Tests.Resilience;

namespace Chat.Tests.Storage;

/// <summary>
/// The search fold (NFKC_Casefold, white space as one space) on its own, and in the real server process, which runs
/// with InvariantGlobalization (where string.Normalize does nothing), unlike this test process.
/// </summary>
public sealed class SearchFoldTests
{
    [TestCase("ΣΩΚΡΑΤΗΣ", "σωκρατησ", TestName = "FoldMapsGreekCapitalsAndFinalSigmaToOneForm")]
    [TestCase("Σωκρατης", "σωκρατησ", TestName = "FoldMapsFinalSigmaToSigma")]
    [TestCase("e\u0308", "\u00EB", TestName = "FoldComposesADecomposedAccent")]
    [TestCase("E\u0308", "\u00EB", TestName = "FoldComposesADecomposedCapital")]
    [TestCase("Stra\u00DFe", "strasse", TestName = "FoldMapsSharpSToSs")]
    [TestCase("STRA\u1E9EE", "strasse", TestName = "FoldMapsCapitalSharpSToSs")]
    [TestCase("\uFB01le", "file", TestName = "FoldExpandsLigatures")]
    [TestCase("\uFF21\uFF22", "ab", TestName = "FoldMapsFullWidthLetters")]
    [TestCase("\u212A", "k", TestName = "FoldMapsKelvinSign")]
    [TestCase("a\u00A0\u3000\tb", "a b", TestName = "FoldCollapsesAnyWhiteSpaceRunToOneSpace")]
    [TestCase(" a  ", " a ", TestName = "FoldKeepsEdgesAsOneSpace")]
    [TestCase("so\u00ADft", "soft", TestName = "FoldDropsDefaultIgnorables")]
    [TestCase("plain ascii", "plain ascii", TestName = "FoldLeavesFoldedTextAlone")]
    public void Fold(string text, string expected) => Assert.That(SearchFold.Fold(text), Is.EqualTo(expected));

    [Test]
    public void TermsAreTheUsernameThePhraseAndEachWordSplitAtUnicodeWhiteSpace() =>
        Assert.That(SearchFold.Terms("Zoe_M", " Zoe\u0308\u2003Ma\u00DF\u00A0Mart\u00EDn "),
            Is.EquivalentTo(new[] { "zoe_m", "zo\u00EB mass mart\u00EDn", "zo\u00EB", "mass", "mart\u00EDn" }));

    [Test]
    public async Task TheServerProcessInInvariantGlobalizationModeFoldsSearch()
    {
        var databasePath = Infrastructure.ChatApp.NewDatabasePath();
        Directory.CreateDirectory(Path.GetDirectoryName(databasePath)!);
        try
        {
            await SearchFoldsInAServerProcessAsync(databasePath);
        }
        finally
        {
            Infrastructure.ChatApp.DeleteDatabase(databasePath);
        }
    }

    private static async Task SearchFoldsInAServerProcessAsync(string databasePath)
    {
        await using var server = await ServerProcess.StartAsync(databasePath);
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        string? token = null;
        foreach (var (username, fullName) in new[] { ("greek", "Σωκρατης"), ("zoe", "Zo\u00EB Stra\u00DFe"), ("searcher", "") })
        {
            var response = await http.PostAsJsonAsync("/api/auth/register", new JsonObject { ["username"] = username, ["password"] = "password123", ["full_name"] = fullName });
            Assert.That((int)response.StatusCode, Is.EqualTo(201), await response.Content.ReadAsStringAsync());
            token = (await response.Content.ReadFromJsonAsync<JsonObject>())!["token"]!.GetValue<string>();
        }
        http.DefaultRequestHeaders.Authorization = new("Bearer", token);

        async Task<string[]> Search(string q) =>
            (await http.GetFromJsonAsync<JsonObject>($"/api/users/search?q={Uri.EscapeDataString(q)}"))!["results"]!.AsArray()
                .Select(u => u!["username"]!.GetValue<string>()).ToArray();

        Assert.That(await Search("ΣΩΚΡΑΤΗΣ"), Is.EqualTo(new[] { "greek" }));
        Assert.That(await Search("ZOE\u0308"), Is.EqualTo(new[] { "zoe" }));
        Assert.That(await Search("STRASSE"), Is.EqualTo(new[] { "zoe" }));
    }
}
