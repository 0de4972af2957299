namespace Chat.Server.Messaging;

/// <summary>The domain side of sending and reading: validation, the send rate limit, read cursors.</summary>
public static class MessagingServices
{
    public static IServiceCollection AddChatMessaging(this IServiceCollection services)
    {
        services.AddSingleton<SendRateLimiter>();
        services.AddSingleton<SendMessageHandler>();
        services.AddSingleton<ReadHandler>();
        return services;
    }
}
