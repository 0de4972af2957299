using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.OpenApi;

/// <summary>
/// The document a live Kestrel server serves passes a real linter, Redocly CLI with the repository's <c>redocly.yaml</c>
/// (the recommended rules): no errors, and only the warnings that file explains.
/// </summary>
[NonParallelizable]
public sealed class OpenApiLintTests : ServerPerTest
{
    /// <summary>The warnings redocly.yaml explains: (rule, JSON pointer of the operation).</summary>
    private static readonly (string Rule, string Pointer)[] KnownWarnings =
    [
        ("operation-2xx-response", "#/paths/~1ws/get/responses"),
        ("operation-4xx-response", "#/paths/~1healthz/get/responses"),
        ("operation-4xx-response", "#/paths/~1healthz~1live/get/responses"),
        ("operation-4xx-response", "#/paths/~1healthz~1ready/get/responses"),
    ];

    private string _directory = null!;

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Path.Combine(Path.GetTempPath(), "chat-openapi-lint", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_directory);
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public async Task ServedDocument_RedoclyLint_NoErrorsAndOnlyTheExplainedWarnings()
    {
        NodeTools.RequireNode();
        var app = await StartServerAsync(Transport.Kestrel);
        using var client = app.CreateClient();
        var document = await client.GetStringAsync("/openapi/v1.json");

        var report = await LintAsync(document, "v1.json");

        var totals = report["totals"]!;
        var problems = report["problems"]!.AsArray().Select(p => (
            Rule: p!["ruleId"]!.GetValue<string>(),
            Severity: p["severity"]!.GetValue<string>(),
            Pointer: p["location"]![0]!["pointer"]!.GetValue<string>(),
            Message: p["message"]!.GetValue<string>())).ToList();
        var warnings = problems.Where(p => p.Severity == "warn").ToList();
        TestContext.Out.WriteLine($"redocly lint: {totals["errors"]} errors, {totals["warnings"]} warnings");
        foreach (var p in problems) TestContext.Out.WriteLine($"  {p.Severity} {p.Rule} at {p.Pointer}: {p.Message}");

        Assert.That(totals["errors"]!.GetValue<int>(), Is.Zero, string.Join("\n", problems.Select(p => $"{p.Severity} {p.Rule} {p.Pointer}: {p.Message}")));
        Assert.That(warnings.Select(w => (w.Rule, w.Pointer)), Is.SubsetOf(KnownWarnings));
    }

    [Test]
    public async Task DocumentWithoutSecuritySchemes_RedoclyLint_ReportsErrors()
    {
        // The harness itself: a document whose operations reference an undefined scheme must fail the lint, so the
        // test above cannot pass by misreading the linter's output.
        NodeTools.RequireNode();
        var app = await StartServerAsync(Transport.Kestrel);
        using var client = app.CreateClient();
        var document = JsonNode.Parse(await client.GetStringAsync("/openapi/v1.json"))!.AsObject();
        document["components"]!.AsObject().Remove("securitySchemes");

        var report = await LintAsync(document.ToJsonString(), "broken.json");

        Assert.That(report["totals"]!["errors"]!.GetValue<int>(), Is.GreaterThan(0), report.ToJsonString());
        Assert.That(report["problems"]!.AsArray().Select(p => p!["ruleId"]!.GetValue<string>()), Does.Contain("security-defined"));
    }

    /// <summary>Writes <paramref name="document"/> to a temp file and returns Redocly's JSON report on it.</summary>
    private async Task<JsonObject> LintAsync(string document, string fileName)
    {
        var file = Path.Combine(_directory, fileName);
        await File.WriteAllTextAsync(file, document);
        var config = Path.Combine(RepositoryPaths.Root(), "redocly.yaml");
        var result = await NodeTools.RunAsync("npx", ["-y", NodeTools.RedoclyCli, "lint", "--config", config, "--format=json", file],
            _directory, TimeSpan.FromMinutes(5));
        // Exit code 1 means "problems found"; the report is on stdout either way (notices go to stderr).
        Assert.That(result.ExitCode, Is.AnyOf(0, 1), result.ToString());
        var start = result.Stdout.IndexOf('{');
        Assert.That(start, Is.GreaterThanOrEqualTo(0), result.ToString());
        return JsonNode.Parse(result.Stdout[start..])!.AsObject();
    }
}
