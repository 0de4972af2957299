using System.ComponentModel.DataAnnotations;
using System.Net.Sockets;
using System.Reflection;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Connections;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;

namespace Chat.Server.Infrastructure;

/// <summary>
/// A server that cannot start because of a setting says so in one line and exits non-zero, with no stack trace
/// (contract section 1): a value the configuration binder cannot convert, one the options validator refuses, an
/// address Kestrel cannot listen on, a database that cannot be opened. <see cref="Describe"/> makes that line;
/// anything it does not recognise is a bug and keeps its full trace. While the host starts, its own
/// "Hosting failed to start" error (the same exception, with its trace, on the log) is held back: the caller
/// reports the failure, as one line or as the unhandled exception it is.
/// </summary>
internal sealed partial class StartupFailure
{
    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";
    private volatile bool _started;

    /// <summary>Called when the application has started; from then on the host's errors are logged as usual.</summary>
    public void Started() => _started = true;

    private bool HidesHostError(string? category, LogLevel level) => !_started && level >= LogLevel.Error && category == HostCategory;

    /// <summary>Registers the report and the filter that holds back the host's own start-up error.</summary>
    public static IServiceCollection Register(IServiceCollection services)
    {
        services.AddSingleton<StartupFailure>();
        services.AddOptions<LoggerFilterOptions>().PostConfigure<StartupFailure>((filters, report) => filters.Deny(report.HidesHostError));
        return services;
    }

    /// <summary>
    /// One line naming the setting (or the address) that stopped the start and what it accepts, or null when
    /// <paramref name="exception"/> is not a settings problem. <paramref name="configuration"/>, when the host got
    /// that far, names the listen address for socket errors that do not carry it.
    /// </summary>
    public static string? Describe(Exception exception, IConfiguration? configuration = null)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case InvalidSettingException:
                    return e.Message;
                case OptionsValidationException invalid:
                    return string.Join(" ", invalid.Failures.Select(f => FromValidation(invalid.OptionsType, f)));
                case InvalidOperationException when ConversionFailure().Match(e.Message) is { Success: true } match:
                    var key = match.Groups["key"].Value;
                    return $"Invalid setting {key}: expected {Accepted(key) ?? TypeDescription(match.Groups["type"].Value)}.";
                case FormatException when e.Message.StartsWith("Could not parse the JSON file", StringComparison.Ordinal):
                    return $"Invalid settings file (appsettings*.json in {AppContext.BaseDirectory}): {e.Message} {e.InnerException?.Message}".TrimEnd();
                case InvalidOperationException when e.Message.StartsWith("Unrecognized scheme in server address", StringComparison.Ordinal):
                    return $"Invalid setting urls: {e.Message.TrimEnd('.')}; expected addresses such as http://127.0.0.1:5000, separated by ';'.";
                case InvalidOperationException when LogLevelFailure().Match(e.Message) is { Success: true } level:
                    return $"Invalid setting under Logging (a LogLevel): '{level.Groups["value"].Value}' is not a level; expected Trace, Debug, Information, Warning, Error, Critical or None.";
                case FormatException when e.Message.StartsWith("Invalid url", StringComparison.Ordinal):
                    return $"Invalid setting urls: {e.Message}; expected addresses such as http://127.0.0.1:5000, separated by ';'.";
                case ArgumentOutOfRangeException { ParamName: "port" }:
                    return $"Invalid setting urls: {configuration?["urls"] ?? "a listen address"} has a port outside 0-65535.";
                case IOException { InnerException: AddressInUseException }:
                    return $"{e.Message.TrimEnd('.')}. Choose a free address with --urls.";
                case SocketException socket:
                    return $"Cannot listen on {configuration?["urls"] ?? "the configured address"}: {socket.Message}. Choose another address with --urls.";
                case SqliteException sqlite:
                    return $"Invalid setting ConnectionStrings:Chat: the database cannot be opened or migrated ({sqlite.Message.TrimEnd('.')}).";
                case Npgsql.NpgsqlException postgres:
                    var reason = postgres is Npgsql.PostgresException server ? $"{server.SqlState}: {server.MessageText}" : postgres.InnerException?.Message ?? postgres.Message;
                    return $"Invalid setting ConnectionStrings:Chat: the PostgreSQL database cannot be reached or migrated ({reason.ReplaceLineEndings(" ").Trim().TrimEnd('.')}).";
                case AggregateException { InnerExceptions.Count: > 1 }:
                    return null;
            }
        }
        return null;
    }

    /// <summary>The configuration binder's message (Microsoft.Extensions.Configuration.Binder, SR.FailedBinding).</summary>
    [GeneratedRegex("^Failed to convert configuration value '.*' at '(?<key>[^']+)' to type '(?<type>[^']+)'", RegexOptions.Singleline)]
    private static partial Regex ConversionFailure();

    /// <summary>Logging's message for a level it cannot parse (Microsoft.Extensions.Logging, LoggerFilterConfigureOptions).</summary>
    [GeneratedRegex("^Configuration value '(?<value>.*)' is not supported\\.", RegexOptions.Singleline)]
    private static partial Regex LogLevelFailure();

    /// <summary>The source-generated validator's failure: <c>Member: message</c>, the message naming <c>ChatOptions.Path.To.Member</c> when it is the attribute's default.</summary>
    [GeneratedRegex("^(?<member>[A-Za-z0-9_.]+): (?<message>.*)$", RegexOptions.Singleline)]
    private static partial Regex ValidationFailure();

    [GeneratedRegex("\\bChatOptions\\.(?<path>[A-Za-z0-9_.]+[A-Za-z0-9_])")]
    private static partial Regex OptionsPath();

    private static string FromValidation(Type optionsType, string failure)
    {
        if (optionsType != typeof(ChatOptions) || ValidationFailure().Match(failure) is not { Success: true } match)
            return $"Invalid setting ({optionsType.Name}): {failure}";
        var message = match.Groups["message"].Value;
        var member = match.Groups["member"].Value;
        var path = OptionsPath().Match(message) is { Success: true } named ? named.Groups["path"].Value
            : member.Contains('.') ? member : PathOf(member);
        var key = ChatOptions.Section + ":" + path.Replace('.', ':');
        return $"Invalid setting {key}: expected {Accepted(key) ?? message.TrimEnd('.')}.";
    }

    /// <summary>The dotted path of the one <see cref="ChatOptions"/> property named <paramref name="member"/>, nested or not; else the name itself.</summary>
    private static string PathOf(string member)
    {
        var found = new List<string>();
        void Walk(Type type, string prefix, int depth)
        {
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.Name == member) found.Add(prefix + property.Name);
                if (depth < 3 && property.PropertyType.IsClass && property.PropertyType.Namespace?.StartsWith("Chat.Server", StringComparison.Ordinal) == true)
                    Walk(property.PropertyType, prefix + property.Name + ".", depth + 1);
            }
        }
        Walk(typeof(ChatOptions), "", 0);
        return found.Count == 1 ? found[0] : member;
    }

    /// <summary>What a <c>Chat:*</c> setting accepts, from its validation attributes; null when the key is not an option.</summary>
    private static string? Accepted(string key)
    {
        var parts = key.Split(':');
        if (!parts[0].Equals(ChatOptions.Section, StringComparison.OrdinalIgnoreCase)) return null;
        var type = typeof(ChatOptions);
        PropertyInfo? property = null;
        foreach (var part in parts.Skip(1).Where(p => !int.TryParse(p, out _)))
        {
            property = type.GetProperty(part, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null) return null;
            type = property.PropertyType;
        }
        if (property is null) return null;
        if (property.GetCustomAttribute<RangeAttribute>() is { } range)
            return property.PropertyType == typeof(TimeSpan)
                ? $"a time span ([d.]hh:mm:ss[.fff]) from {range.Minimum} to {range.Maximum}"
                : $"a whole number from {range.Minimum} to {range.Maximum}";
        if (property.GetCustomAttribute<ValidationAttribute>() is { } attribute) return attribute.FormatErrorMessage(property.Name).TrimEnd('.');
        return TypeDescription(property.PropertyType.FullName ?? property.PropertyType.Name);
    }

    private static string TypeDescription(string typeName) => typeName switch
    {
        "System.Int32" or "System.Int64" => "a whole number",
        "System.TimeSpan" => "a time span such as 00:05:00 ([d.]hh:mm:ss[.fff])",
        "System.Boolean" => "true or false",
        _ => $"a value of type {typeName}",
    };
}
