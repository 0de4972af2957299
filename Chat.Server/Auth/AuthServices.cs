using Chat.Server.Storage;
using Microsoft.AspNetCore.Identity;

namespace Chat.Server.Auth;

/// <summary>Bearer tokens, password hashing and the login throttle.</summary>
public static class AuthServices
{
    public static IServiceCollection AddChatAuth(this IServiceCollection services)
    {
        services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        services.AddSingleton<IPasswordHasher<UserRow>, PasswordHasher<UserRow>>();
        services.AddSingleton<PasswordService>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<LoginThrottle>();
        return services;
    }
}
