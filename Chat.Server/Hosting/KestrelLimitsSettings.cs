using Chat.Server.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Chat.Server.Hosting;

/// <summary>
/// Binds the <c>Kestrel:Limits</c> section over the server's own defaults (contract section 1: every
/// <c>Kestrel:Limits:*</c> setting takes effect). A value Kestrel refuses (a negative size, a zero timeout) stops the
/// start with one line naming that setting (<see cref="InvalidSettingException"/>), not a stack trace.
/// </summary>
public static class KestrelLimitsSettings
{
    /// <summary>The configuration section: <c>Kestrel:Limits</c>.</summary>
    public const string Section = "Kestrel:Limits";

    /// <exception cref="InvalidSettingException">A value that cannot be converted or that Kestrel refuses.</exception>
    public static void Bind(IConfiguration configuration, KestrelServerLimits limits)
    {
        var section = configuration.GetSection(Section);
        try
        {
            section.Bind(limits);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.Reflection.TargetInvocationException)
        {
            // Find the one setting that fails on its own, to name it (a refused setter arrives wrapped by the binder).
            foreach (var setting in section.AsEnumerable().Where(pair => pair.Value is not null))
            {
                var alone = new ConfigurationBuilder().AddInMemoryCollection([setting]).Build();
                try { alone.GetSection(Section).Bind(new KestrelServerLimits()); }
                catch (Exception inner) when (inner is ArgumentException or InvalidOperationException or System.Reflection.TargetInvocationException)
                {
                    var reason = (inner as System.Reflection.TargetInvocationException)?.InnerException ?? inner;
                    throw new InvalidSettingException(setting.Key, $"a value Kestrel accepts ({FirstLine(reason.Message)})", inner);
                }
            }
            throw new InvalidSettingException(Section, $"values Kestrel accepts ({FirstLine(e.Message)})", e);
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Trim().TrimEnd('.');
}
