using Chat.Protocol;
using Chat.Server.Auth;
using Chat.Server.Cluster;
using Chat.Server.Infrastructure;
using Chat.Server.Infrastructure.OpenApi;
using Chat.Server.Messaging;
using Chat.Server.Observability;
using Chat.Server.Realtime;
using Chat.Server.Storage;
using Chat.Server.Users;
using Chat.Server.Hosting;
using Microsoft.Extensions.Options;

namespace Chat.Server;

/// <summary>Builds the server. <c>Program</c> and the tests both start it through here.</summary>
public static partial class ChatHost
{
    /// <summary>
    /// Runs the server until it is stopped and returns the process exit code. A setting that cannot work (see
    /// <see cref="StartupFailure"/>) ends the start with one line on stderr and exit code 1, no stack trace.
    /// </summary>
    public static async Task<int> RunAsync(string[] args)
    {
        WebApplication? app = null;
        try
        {
            app = Build(args);
            await app.StartAsync();
        }
        catch (Exception e) when (StartupFailure.Describe(e, app?.Configuration) is { } line)
        {
            await Console.Error.WriteLineAsync(line);
            // Disposing releases the console lifetime, which would otherwise hold the exit for the shutdown timeout.
            if (app is not null) await app.DisposeAsync();
            return 1;
        }
        await app.WaitForShutdownAsync();
        await app.DisposeAsync();
        return 0;
    }

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        // The content root (appsettings.json) and the web client are the application's own folder, whatever the
        // working directory: a service unit starts `dotnet Chat.Server.dll` from elsewhere, and without its
        // appsettings.json the server would run with the framework's logging defaults. (The database path in
        // ConnectionStrings:Chat stays relative to the working directory.)
        var webRoot = Path.Combine(AppContext.BaseDirectory, "wwwroot");
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Directory.Exists(webRoot) ? webRoot : null,
        });
        builder.Services.AddChat(builder.Configuration);
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UseChat();
        return app;
    }

    /// <summary>Every service of the server, one area (folder) at a time.</summary>
    public static IServiceCollection AddChat(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ChatOptions>().Bind(configuration.GetSection(ChatOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ChatOptions>, ChatOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        StartupFailure.Register(services);
        services.AddSecretFreeLogging();
        services.AddTrustedProxies(configuration);
        services.AddChatCrossOrigin(configuration);

        services.AddChatKestrel(configuration);
        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ChatJson.Wire);
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
            // The web defaults read numbers from strings too (AllowReadingFromString). No body is read with these options
            // (JsonBody uses the protocol's strict context), but the OpenAPI generator takes its schemas from them, and
            // the lenient setting made every id `integer | string`. Ids are JSON integers on the wire, in both directions.
            o.SerializerOptions.NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.Strict;
        });
        services.AddChatProblemDetails();
        services.AddChatOpenApi();

        services.AddChatAuth();
        services.AddChatStorage(configuration);
        services.AddChatMessaging();
        services.AddChatCluster(configuration);
        services.AddChatRealtime();
        services.AddChatHealth();
        services.AddChatObservability(configuration);
        return services;
    }

    public static WebApplication UseChat(this WebApplication app)
    {
        // Settings first: a bad one stops here, before the database is touched (StorageInitializer migrates at start).
        var options = app.Services.GetRequiredService<IOptions<ChatOptions>>().Value;
        app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(app.Services.GetRequiredService<StartupFailure>().Started);

        app.UseTrustedProxies(options);
        app.UseRequestLog();
        app.UseChatErrors();
        app.UseChatMetrics();
        app.UseCors();
        app.UseDefaultFiles();
        app.UseStaticFiles(new StaticFileOptions
        {
            OnPrepareResponse = ctx =>
            {
                // Only the server's own scripts and styles; no inline script, no third-party origin.
                ctx.Context.Response.Headers.ContentSecurityPolicy =
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
                ctx.Context.Response.Headers.XContentTypeOptions = "nosniff";
                ctx.Context.Response.Headers["Referrer-Policy"] = "no-referrer";
            },
        });
        app.UseWebSockets();
        app.UseAuthentication();
        app.UseAuthorization();

        app.MapOpenApi();
        app.MapChatHealth();
        app.MapAuth();
        app.MapUsers();
        app.MapMessaging();
        app.MapChatWebSocket();
        return app;
    }
}
