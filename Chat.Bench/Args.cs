using System.Globalization;

namespace Chat.Bench;

/// <summary>Command line: a scenario name, then <c>--key value</c> options and bare <c>--flags</c>.</summary>
public sealed class Args
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _used = new(StringComparer.OrdinalIgnoreCase);

    public Args(string[] argv)
    {
        Raw = argv;
        for (var i = 0; i < argv.Length; i++)
        {
            var a = argv[i];
            if (!a.StartsWith("--", StringComparison.Ordinal))
            {
                if (Scenario is null) Scenario = a;
                else throw new ArgumentException($"Unexpected argument '{a}'.");
                continue;
            }
            var key = a[2..];
            string value;
            var eq = key.IndexOf('=');
            if (eq > 0) { value = key[(eq + 1)..]; key = key[..eq]; }
            else if (i + 1 < argv.Length && (!argv[i + 1].StartsWith("--", StringComparison.Ordinal) || key == "server-arg")) value = argv[++i];
            else value = "true";
            if (!_values.TryGetValue(key, out var list)) _values[key] = list = [];
            list.Add(value);
        }
    }

    public string[] Raw { get; }
    public string? Scenario { get; }

    public string? Str(string key)
    {
        _used.Add(key);
        return _values.TryGetValue(key, out var v) ? v[^1] : null;
    }

    public string Str(string key, string fallback) => Str(key) ?? fallback;

    public IReadOnlyList<string> All(string key)
    {
        _used.Add(key);
        return _values.TryGetValue(key, out var v) ? v : [];
    }

    public int Int(string key, int fallback) => Str(key) is { } s ? int.Parse(s, CultureInfo.InvariantCulture) : fallback;
    public double Double(string key, double fallback) => Str(key) is { } s ? double.Parse(s, CultureInfo.InvariantCulture) : fallback;
    public bool Flag(string key) => Str(key) is { } s && s != "false";

    public int[] Ints(string key, int[] fallback) =>
        Str(key) is { } s ? s.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray() : fallback;

    /// <summary>Options given but never read: almost always a typo.</summary>
    public IEnumerable<string> Unused() => _values.Keys.Where(k => !_used.Contains(k));

    public string CommandLine => "dotnet run -c Release --project Chat.Bench -- " + string.Join(' ', Raw.Select(Quote));

    private static string Quote(string s) => s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_.,:=/@".Contains(c)) ? s : "'" + s.Replace("'", "'\\''") + "'";
}
