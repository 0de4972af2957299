using System.Text.Json.Nodes;

namespace Chat.Tests.Infrastructure;

/// <summary>Strings for the text-policy tests: lengths are counted in code points, not UTF-16 units.</summary>
public static class TextSamples
{
    /// <summary>An emoji outside the BMP: one code point (one character of the contract), two UTF-16 units.</summary>
    public const string Emoji = "\U0001F600";

    /// <summary>
    /// Stands for a lone high surrogate (not well-formed text) in a <see cref="JsonObject"/>, which cannot hold one
    /// faithfully: <see cref="ToRawJson"/> writes it as the JSON escape <c>\ud83d</c>.
    /// </summary>
    public const string LoneSurrogate = "LONE_SURROGATE";

    /// <summary>The object as JSON text, each <see cref="LoneSurrogate"/> written as a lone <c>\ud83d</c>.</summary>
    public static string ToRawJson(JsonObject body) => body.ToJsonString().Replace(LoneSurrogate, "\\ud83d", StringComparison.Ordinal);

    public static string Repeat(string unit, int count) => string.Concat(Enumerable.Repeat(unit, count));

    /// <summary>A plausible address of exactly <paramref name="codePoints"/> code points, its local part made of <paramref name="unit"/>.</summary>
    public static string Email(string unit, int codePoints) => Repeat(unit, codePoints - "@example.com".Length) + "@example.com";
}
