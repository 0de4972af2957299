using System.Globalization;
using System.Text.RegularExpressions;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Observability;

/// <summary>
/// One answer of <c>GET /metrics</c> (Prometheus text format), parsed: the samples by name and labels, so a test can
/// read a counter before and after the traffic it causes.
/// </summary>
internal sealed partial class MetricsScrape
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    private MetricsScrape(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var match = Sample().Match(line);
            Assert.That(match.Success, Is.True, $"not a Prometheus sample line: {line}");
            var labels = new Dictionary<string, string>();
            foreach (Match label in Label().Matches(match.Groups["labels"].Value))
                labels[label.Groups["name"].Value] = label.Groups["value"].Value;
            var value = match.Groups["value"].Value switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                var v => double.Parse(v, CultureInfo.InvariantCulture),
            };
            _samples.Add((match.Groups["name"].Value, labels, value));
        }
    }

    /// <summary>The raw answer.</summary>
    public string Text { get; }

    /// <summary>Every sample name (for a histogram: its <c>_bucket</c>, <c>_sum</c> and <c>_count</c> series).</summary>
    public IReadOnlySet<string> Names => _samples.Select(s => s.Name).ToHashSet();

    /// <summary>The sum of the samples named <paramref name="name"/> whose labels include <paramref name="labels"/>; 0 when none (a counter not yet touched).</summary>
    public double Value(string name, params (string Label, string Value)[] labels) =>
        _samples.Where(s => Matches(s, name, labels)).Sum(s => s.Value);

    /// <summary>True when a sample named <paramref name="name"/> with <paramref name="labels"/> is exported at all (even at 0).</summary>
    public bool Has(string name, params (string Label, string Value)[] labels) =>
        _samples.Any(s => Matches(s, name, labels));

    private static bool Matches((string Name, Dictionary<string, string> Labels, double Value) sample, string name, (string Label, string Value)[] labels) =>
        sample.Name == name && labels.All(l => sample.Labels.TryGetValue(l.Label, out var v) && v == l.Value);

    /// <summary>Scrapes <paramref name="path"/> of <paramref name="app"/>; asserts 200 and the Prometheus text content type.</summary>
    public static async Task<MetricsScrape> TakeAsync(ChatApp app, string path = "/metrics")
    {
        using var client = app.CreateClient();
        return await TakeAsync(client, path);
    }

    public static async Task<MetricsScrape> TakeAsync(HttpClient client, string path = "/metrics")
    {
        using var response = await client.GetAsync(path);
        var text = await response.Content.ReadAsStringAsync();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), $"GET {path}: {text}");
        Assert.That(response.Content.Headers.ContentType?.MediaType, Is.EqualTo("text/plain"), "Prometheus text exposition format");
        return new MetricsScrape(text);
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})?\s+(?<value>\S+)(\s+\d+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex("(?<name>[a-zA-Z_][a-zA-Z0-9_]*)=\"(?<value>(?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex Label();
}
