namespace Chat.Server.Infrastructure;

/// <summary>
/// A log filter that configuration cannot lift. <c>Logging:*</c> settings become filter rules, and the logger
/// factory applies only the single most specific rule for each provider and category; a rule added next to
/// them could be outranked by a more specific one (<c>Logging:Console:LogLevel:&lt;category&gt;</c>). So this
/// runs as a post-configure step, after the settings are bound (and again on every reload), and puts its test
/// inside every rule, including a catch-all that stands for the global minimum level: whichever rule is chosen,
/// the denial holds.
/// </summary>
internal static class ForcedLogFilter
{
    /// <summary>Drops every log event for which <paramref name="deny"/>(category, level) is true, for every provider.</summary>
    public static void Deny(this LoggerFilterOptions options, Func<string?, LogLevel, bool> deny)
    {
        Func<string?, string?, LogLevel, bool> Wrap(Func<string?, string?, LogLevel, bool>? inner) =>
            (provider, category, level) => !deny(category, level) && (inner is null || inner(provider, category, level));

        var rules = options.Rules.Select(r => new LoggerFilterRule(r.ProviderName, r.CategoryName, r.LogLevel, Wrap(r.Filter))).ToList();
        options.Rules.Clear();
        // First, so any matching rule outranks it: it only applies where no rule matches, as the bare minimum level would.
        options.Rules.Add(new LoggerFilterRule(null, null, options.MinLevel, Wrap(null)));
        foreach (var rule in rules) options.Rules.Add(rule);
    }
}
