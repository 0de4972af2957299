using Microsoft.AspNetCore.HttpLogging;
using Microsoft.Extensions.Primitives;

namespace Chat.Server.Infrastructure;

/// <summary>
/// Keeps tokens out of every log line at every level. A token travels in <c>Authorization: Bearer</c> or, for
/// browsers' WebSockets, in <c>?token=</c>, and two framework categories print those verbatim: ASP.NET Hosting's
/// "Request starting/finished" (Information; the full URL, query included, logged before any middleware runs)
/// and Kestrel's bad-request details (Debug; the offending request line or header line). Both are held below
/// Warning in code (<see cref="ForcedLogFilter"/>: no <c>Logging:*</c> setting lifts it), and requests are
/// logged instead by the framework's HTTP logging with method, path, status and duration, no headers, and the
/// query with its values redacted (<see cref="RedactQuery"/>). Like the Hosting log it replaces, that request
/// log is under <c>Microsoft.AspNetCore</c> (Warning in appsettings.json, so off until an operator raises it).
/// </summary>
internal static class SecretFreeLogging
{
    /// <summary>Categories that can print a raw request target or header line.</summary>
    private static readonly HashSet<string> RawRequestCategories =
    [
        "Microsoft.AspNetCore.Hosting.Diagnostics",
        "Microsoft.AspNetCore.Server.Kestrel.BadRequests",
    ];

    /// <summary>Query parameters whose value is shown when it is a plain number; every other value is redacted.</summary>
    private static readonly HashSet<string> NumericParameters = new(["limit", "before", "v"], StringComparer.OrdinalIgnoreCase);

    /// <summary>Query parameters the API knows; an unknown name is redacted too (a token can be sent as a bare name).</summary>
    private static readonly HashSet<string> KnownParameters = new(["token", "q", "limit", "before", "v"], StringComparer.OrdinalIgnoreCase);

    public static IServiceCollection AddSecretFreeLogging(this IServiceCollection services)
    {
        services.PostConfigure<LoggerFilterOptions>(o =>
            o.Deny((category, level) => level < LogLevel.Warning && category is not null && RawRequestCategories.Contains(category)));
        services.AddHttpLogging(o =>
        {
            o.LoggingFields = HttpLoggingFields.RequestMethod | HttpLoggingFields.RequestPath | HttpLoggingFields.RequestProtocol
                | HttpLoggingFields.ResponseStatusCode | HttpLoggingFields.Duration;
            o.CombineLogs = true;
        });
        services.AddHttpLoggingInterceptor<RedactedQueryInterceptor>();
        return services;
    }

    /// <summary>The request log; first in the pipeline, so it sees every request the pipeline answers.</summary>
    public static IApplicationBuilder UseRequestLog(this IApplicationBuilder app) => app.UseHttpLogging();

    /// <summary>
    /// The query as it may be logged: known names kept, a value shown only for a numeric parameter holding a
    /// number (<c>limit</c>, <c>before</c>, <c>v</c>), everything else <c>[Redacted]</c>. Example:
    /// <c>?token=abc&amp;limit=20</c> becomes <c>token=[Redacted]&amp;limit=20</c>.
    /// </summary>
    internal static string RedactQuery(IQueryCollection query)
    {
        var parts = new List<string>();
        foreach (var (name, values) in query)
        foreach (var value in values.Count == 0 ? new StringValues("") : values)
        {
            if (!KnownParameters.Contains(name)) parts.Add("[Redacted]");
            else if (NumericParameters.Contains(name) && value is { Length: > 0 and <= 20 } && value.All(char.IsAsciiDigit)) parts.Add($"{name}={value}");
            else parts.Add($"{name}=[Redacted]");
        }
        return string.Join('&', parts);
    }

    private sealed class RedactedQueryInterceptor : IHttpLoggingInterceptor
    {
        public ValueTask OnRequestAsync(HttpLoggingInterceptorContext logContext)
        {
            var query = logContext.HttpContext.Request.Query;
            if (query.Count > 0) logContext.AddParameter("Query", RedactQuery(query));
            return ValueTask.CompletedTask;
        }

        public ValueTask OnResponseAsync(HttpLoggingInterceptorContext logContext) => ValueTask.CompletedTask;
    }
}
