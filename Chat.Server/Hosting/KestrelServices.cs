using Chat.Server.Realtime;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

namespace Chat.Server.Hosting;

/// <summary>Kestrel: the server's own limits, the <c>Kestrel:Limits</c> section over them, connection caps, the WebSocket fast path.</summary>
public static class KestrelServices
{
    public static IServiceCollection AddChatKestrel(this IServiceCollection services, IConfiguration configuration)
    {
        // Kestrel limits are set on purpose, not left to defaults: bodies are small JSON or one avatar. The
        // Kestrel:Limits section is bound over them, so an operator's setting always wins.
        services.AddOptions<KestrelServerOptions>()
            .Configure<IOptions<ChatOptions>>((kestrel, chat) =>
            {
                kestrel.Limits.MaxRequestBodySize = chat.Value.MaxAvatarBytes + 64 * 1024;
                kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
                kestrel.Limits.MaxRequestLineSize = 8 * 1024;
                kestrel.AddServerHeader = false;
                KestrelLimitsSettings.Bind(configuration, kestrel.Limits);
                ConnectionCaps.Apply(kestrel.Limits, configuration.GetSection(KestrelLimitsSettings.Section), chat.Value.WebSocketFastPath, ConnectionCaps.ReadOpenFileLimit());
                if (chat.Value.WebSocketFastPath)
                    kestrel.ConfigureEndpointDefaults(listen => listen.Use(next =>
                        ActivatorUtilities.CreateInstance<WebSocketFastPath>(listen.ApplicationServices, next, kestrel.Limits.KeepAliveTimeout).OnConnectionAsync));
            });
        return services;
    }
}
