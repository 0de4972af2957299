namespace Chat.Server.Infrastructure;

/// <summary>
/// A setting that cannot work, found by the code that uses it rather than by the options validator (e.g. a
/// connection string SQLite cannot parse). <see cref="StartupFailure"/> prints it as one line.
/// </summary>
public sealed class InvalidSettingException(string setting, string accepted, Exception? inner = null)
    : Exception($"Invalid setting {setting}: expected {accepted}.", inner)
{
    /// <summary>The setting's configuration key, e.g. <c>ConnectionStrings:Chat</c>.</summary>
    public string Setting { get; } = setting;
}
