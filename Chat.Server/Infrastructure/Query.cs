using System.Globalization;

namespace Chat.Server.Infrastructure;

internal static class Query
{
    /// <summary>The contract's limit rule: absent means the default, above the maximum means the maximum, below 1 is 400.</summary>
    public static int Limit(HttpRequest request, int @default, int max)
    {
        var value = Long(request, "limit");
        if (value is null) return @default;
        if (value < 1) throw ChatException.BadRequest("limit must be at least 1.");
        return (int)Math.Min(value.Value, max);
    }

    public static long? Long(HttpRequest request, string name)
    {
        if (!request.Query.TryGetValue(name, out var raw)) return null;
        var text = raw.ToString();
        if (raw.Count == 1 && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
            return value;
        // Digits too many for a long are still "above the maximum", not malformed.
        if (raw.Count == 1 && text.Length > 0 && text.TrimStart('+').All(char.IsAsciiDigit) && text.TrimStart('+').Length > 0)
            return long.MaxValue;
        throw ChatException.BadRequest($"{name} must be an integer.");
    }
}
