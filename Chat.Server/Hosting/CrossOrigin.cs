using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Options;

namespace Chat.Server.Hosting;

/// <summary>
/// Which web pages may use the server (<see cref="ChatOptions.AllowedOrigins"/>): the framework's CORS for the HTTP API,
/// and the same list for the <c>Origin</c> header of a <c>/ws</c> upgrade (browsers send it; CORS does not cover
/// WebSockets, so without this check any page could open a socket with a token it holds). A page of the server's own
/// origin is always let in; a client that sends no <c>Origin</c> (wscat, mobile apps, servers) is not a page and is let in
/// too. <c>*</c> in the list lets every origin in.
/// </summary>
public sealed class CrossOrigin(IOptions<ChatOptions> options)
{
    /// <summary>The wildcard entry of <see cref="ChatOptions.AllowedOrigins"/>.</summary>
    public const string AnyOrigin = "*";

    private readonly HashSet<string> _allowed = new(options.Value.AllowedOrigins.Select(o => Normalize(o) ?? o), StringComparer.Ordinal);

    /// <summary>
    /// True when a request carrying <paramref name="origin"/> (the <c>Origin</c> header, null when absent) may open a
    /// socket on a server reached as <paramref name="host"/> (the <c>Host</c> header). Same origin means the origin's
    /// host and port are the <c>Host</c> header's (the scheme counts only through its default port: behind a TLS proxy
    /// the server itself sees http).
    /// </summary>
    public bool IsAllowed(string? origin, string? host)
    {
        if (origin is null) return true;
        if (_allowed.Contains(AnyOrigin)) return true;
        if (Normalize(origin) is not { } normalized) return false; // "null" (sandboxed frames, file:) and garbage
        return _allowed.Contains(normalized) || host is not null && IsSameOrigin(normalized, host);
    }

    /// <summary>
    /// The origin's host is the <c>Host</c> header's, and so is its port: the header's explicit port, or, when it has none,
    /// the origin's scheme's default (<c>Host: chat.example.com</c> matches <c>https://chat.example.com</c>, and
    /// <c>Host: chat.example.com:443</c> does too).
    /// </summary>
    private static bool IsSameOrigin(string normalizedOrigin, string host)
    {
        var origin = new Uri(normalizedOrigin);
        var requested = HostString.FromUriComponent(host);
        if (!string.Equals(requested.Host, origin.Host, StringComparison.OrdinalIgnoreCase)) return false;
        return requested.Port is { } port ? port == origin.Port : origin.IsDefaultPort;
    }

    /// <summary><c>scheme://host[:port]</c> in lower case with the scheme's default port left out, or null when <paramref name="origin"/> is not an http(s) origin.</summary>
    internal static string? Normalize(string origin)
    {
        origin = origin.Trim();
        if (origin == AnyOrigin) return AnyOrigin;
        if (!Uri.TryCreate(origin, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https")
            || uri.AbsolutePath != "/" || uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0
            || origin.EndsWith('/'))
            return null;
        return uri.GetLeftPart(UriPartial.Authority).ToLowerInvariant();
    }
}

/// <summary>Every entry is <c>*</c> or an http(s) origin without path, such as <c>https://app.example.com</c>.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OriginListAttribute() : ValidationAttribute("origins such as https://app.example.com (scheme://host[:port], no path), or *")
{
    public override bool IsValid(object? value) =>
        value is not IEnumerable<string> entries || entries.All(e => CrossOrigin.Normalize(e) is not null);
}

/// <summary>Registers <see cref="CrossOrigin"/> and the framework's CORS policy built from the same list.</summary>
public static class CrossOriginServices
{
    /// <summary>Headers a cross-origin page may read besides the CORS-safelisted ones: <c>Retry-After</c> of a 429.</summary>
    private static readonly string[] ExposedHeaders = ["Retry-After"];

    public static IServiceCollection AddChatCrossOrigin(this IServiceCollection services, IConfiguration configuration)
    {
        // The binder ignores a plain value where it expects a list: --Chat:AllowedOrigins=https://a,https://b must work too.
        services.PostConfigure<ChatOptions>(o =>
            o.AllowedOrigins = [.. o.AllowedOrigins, .. Infrastructure.TrustedProxyOptions.Split(configuration[$"{ChatOptions.Section}:{nameof(ChatOptions.AllowedOrigins)}"])]);
        services.AddSingleton<CrossOrigin>();
        services.AddCors();
        services.AddOptions<CorsOptions>().Configure<IOptions<ChatOptions>>((cors, chat) => cors.AddDefaultPolicy(policy =>
        {
            var origins = chat.Value.AllowedOrigins.Select(o => CrossOrigin.Normalize(o) ?? o).ToArray();
            if (origins.Contains(CrossOrigin.AnyOrigin)) policy.AllowAnyOrigin();
            else policy.WithOrigins(origins);
            // Bearer tokens, no cookies: credentials mode is never needed.
            policy.AllowAnyHeader().AllowAnyMethod().WithExposedHeaders(ExposedHeaders).SetPreflightMaxAge(TimeSpan.FromMinutes(10));
        }));
        return services;
    }
}
