using System.ComponentModel.DataAnnotations;
using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace Chat.Server.Infrastructure;

/// <summary>
/// Reverse proxies the server believes (<c>Chat:ForwardedHeaders</c>). A request whose connection comes from one
/// of them has its client address (and scheme) taken from <c>X-Forwarded-For</c> (<c>X-Forwarded-Proto</c>) by the
/// framework's ForwardedHeaders middleware; from anyone else those headers are ignored. Empty (the default): the
/// middleware is not installed and nobody's forwarded headers are believed, not even loopback's (which the
/// framework's own defaults would trust).
/// </summary>
public sealed class TrustedProxyOptions
{
    /// <summary>
    /// Addresses of trusted proxies, e.g. <c>10.0.0.5</c>. Set as <c>Chat:ForwardedHeaders:KnownProxies:0</c>,
    /// <c>:1</c>, ... or as one comma-separated value. The default is none.
    /// </summary>
    [IPAddressList]
    public string[] KnownProxies { get; set; } = [];

    /// <summary>
    /// Networks of trusted proxies in CIDR notation, e.g. <c>10.0.0.0/8</c>; set like <see cref="KnownProxies"/>.
    /// The default is none.
    /// </summary>
    [IPNetworkList]
    public string[] KnownNetworks { get; set; } = [];

    /// <summary>
    /// How many proxies in a row to read back through: entries of <c>X-Forwarded-For</c> taken from the right while
    /// the sender is trusted. The default is 1 (one proxy in front of the server).
    /// </summary>
    [Range(1, int.MaxValue)]
    public int ForwardLimit { get; set; } = 1;

    internal bool Enabled => KnownProxies.Length > 0 || KnownNetworks.Length > 0;

    internal static string[] Split(string? value) =>
        value?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
}

/// <summary>Every entry is an IP address.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class IPAddressListAttribute() : ValidationAttribute("IP addresses such as 10.0.0.5")
{
    public override bool IsValid(object? value) =>
        value is not IEnumerable<string> entries || entries.All(e => IPAddress.TryParse(e.Trim(), out _));
}

/// <summary>Every entry is a network in CIDR notation.</summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class IPNetworkListAttribute() : ValidationAttribute("networks in CIDR notation such as 10.0.0.0/8")
{
    public override bool IsValid(object? value) =>
        value is not IEnumerable<string> entries || entries.All(e => System.Net.IPNetwork.TryParse(e.Trim(), out _));
}

/// <summary>Wires <see cref="TrustedProxyOptions"/> into the framework's ForwardedHeaders middleware.</summary>
internal static class TrustedProxies
{
    public static IServiceCollection AddTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        // The binder ignores a plain value where it expects a list; an operator writing
        // --Chat:ForwardedHeaders:KnownProxies=10.0.0.5 must not be silently left untrusted.
        services.PostConfigure<ChatOptions>(o =>
        {
            var section = configuration.GetSection($"{ChatOptions.Section}:{nameof(ChatOptions.ForwardedHeaders)}");
            var proxies = o.ForwardedHeaders;
            proxies.KnownProxies = [.. proxies.KnownProxies, .. TrustedProxyOptions.Split(section[nameof(TrustedProxyOptions.KnownProxies)])];
            proxies.KnownNetworks = [.. proxies.KnownNetworks, .. TrustedProxyOptions.Split(section[nameof(TrustedProxyOptions.KnownNetworks)])];
        });
        services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<ChatOptions>>((forwarded, chat) =>
        {
            var proxies = chat.Value.ForwardedHeaders;
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.ForwardLimit = proxies.ForwardLimit;
            forwarded.KnownProxies.Clear();
            forwarded.KnownIPNetworks.Clear();
            foreach (var proxy in proxies.KnownProxies) forwarded.KnownProxies.Add(IPAddress.Parse(proxy.Trim()));
            foreach (var network in proxies.KnownNetworks) forwarded.KnownIPNetworks.Add(System.Net.IPNetwork.Parse(network.Trim()));
        });
        return services;
    }

    /// <summary>Installs the middleware when proxies are configured; first in the pipeline, so everything after sees the client.</summary>
    public static IApplicationBuilder UseTrustedProxies(this IApplicationBuilder app, ChatOptions options) =>
        options.ForwardedHeaders.Enabled ? app.UseForwardedHeaders() : app;
}
