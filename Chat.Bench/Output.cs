using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Chat.Bench;

public static class Output
{
    public static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static void Table(string title, string[] headers, IEnumerable<object?[]> rows)
    {
        var data = rows.Select(r => r.Select(Cell).ToArray()).ToList();
        var widths = headers.Select((h, i) => Math.Max(h.Length, data.Count == 0 ? 0 : data.Max(r => r[i].Length))).ToArray();
        Console.WriteLine();
        Console.WriteLine(title);
        Console.WriteLine(string.Join("  ", headers.Select((h, i) => h.PadLeft(widths[i]))));
        Console.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
        foreach (var r in data) Console.WriteLine(string.Join("  ", r.Select((c, i) => c.PadLeft(widths[i]))));
        Console.WriteLine();
    }

    public static string Cell(object? v) => v switch
    {
        null => "",
        double d => d.ToString(Math.Abs(d) >= 100 ? "F0" : "0.###", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };

    /// <summary>Writes the scenario's JSON (the command, the machine and its load, the server, the figures) and returns its path.</summary>
    public static string WriteJson(Args args, string scenario, object results, ServerHandle? server, bool passed, DateTimeOffset started, string loadBefore)
    {
        var path = args.Str("json") ?? Path.Combine(Paths.ResultsDir(), scenario + ".json");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var doc = new Dictionary<string, object?>
        {
            ["scenario"] = scenario,
            ["command"] = args.CommandLine,
            ["started_utc"] = started.ToString("u", CultureInfo.InvariantCulture),
            ["duration_s"] = Math.Round((DateTimeOffset.UtcNow - started).TotalSeconds, 1),
            ["passed"] = passed,
            ["machine"] = Machine.Describe(),
            ["load_average_before"] = loadBefore,
            ["load_average_after"] = Machine.LoadAverage(),
            ["server"] = server is null ? null : new Dictionary<string, object?>
            {
                ["mode"] = server.Mode,
                ["url"] = server.BaseUri.ToString(),
                ["args"] = server.ServerArgs,
            },
            ["results"] = results,
        };
        File.WriteAllText(path, JsonSerializer.Serialize(doc, Json));
        Console.WriteLine($"wrote {path}");
        return path;
    }
}
