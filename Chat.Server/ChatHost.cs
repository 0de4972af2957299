using Chat.Protocol;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
using Chat.Server.Messaging;
using Chat.Server.Realtime;
using Chat.Server.Storage;
using Chat.Server.Users;
using Dapper;
using Microsoft.AspNetCore.Identity;
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

    public static IServiceCollection AddChat(this IServiceCollection services, IConfiguration configuration)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        // Contract section 1: ConnectionStrings:Redis joins a cluster. This version has no cluster mode, so the setting
        // cannot work and is refused rather than ignored.
        if (!string.IsNullOrWhiteSpace(configuration.GetConnectionString("Redis")))
            throw new InvalidSettingException("ConnectionStrings:Redis", "no value (this version has no cluster mode)");

        services.AddOptions<ChatOptions>().Bind(configuration.GetSection(ChatOptions.Section)).ValidateOnStart();
        services.AddSingleton<IValidateOptions<ChatOptions>, ChatOptionsValidator>();
        services.AddSingleton(TimeProvider.System);
        StartupFailure.Register(services);
        services.AddSecretFreeLogging();
        services.AddTrustedProxies(configuration);

        // Kestrel limits are set on purpose, not left to defaults: bodies are small JSON or one avatar. The
        // Kestrel:Limits section is bound over them, so an operator's setting always wins.
        services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IOptions<ChatOptions>>((kestrel, chat) =>
            {
                kestrel.Limits.MaxRequestBodySize = chat.Value.MaxAvatarBytes + 64 * 1024;
                kestrel.Limits.MaxRequestHeadersTotalSize = 32 * 1024;
                kestrel.Limits.MaxRequestLineSize = 8 * 1024;
                kestrel.AddServerHeader = false;
                Hosting.KestrelLimitsSettings.Bind(configuration, kestrel.Limits);
                Hosting.ConnectionCaps.Apply(kestrel.Limits, configuration.GetSection(Hosting.KestrelLimitsSettings.Section), chat.Value.WebSocketFastPath, Hosting.ConnectionCaps.ReadOpenFileLimit());
                if (chat.Value.WebSocketFastPath)
                    kestrel.ConfigureEndpointDefaults(listen => listen.Use(next =>
                        ActivatorUtilities.CreateInstance<WebSocketFastPath>(listen.ApplicationServices, next, kestrel.Limits.KeepAliveTimeout).OnConnectionAsync));
            });

        services.ConfigureHttpJsonOptions(o =>
        {
            o.SerializerOptions.TypeInfoResolverChain.Insert(0, ChatJson.Wire);
            o.SerializerOptions.PropertyNamingPolicy = System.Text.Json.JsonNamingPolicy.SnakeCaseLower;
        });
        services.AddChatProblemDetails();
        services.AddOpenApi();

        services.AddAuthentication(TokenAuthenticationHandler.SchemeName)
            .AddScheme<Microsoft.AspNetCore.Authentication.AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();

        // Storage
        services.AddSingleton<SqliteDatabase>();
        services.AddSingleton<SqliteUserStore>();
        services.AddSingleton<IUserStore>(sp => new CachingUserStore(sp.GetRequiredService<SqliteUserStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ITokenStore>(sp => sp.GetRequiredService<SqliteUserStore>());
        services.AddSingleton<StreamPosition>();
        services.AddSingleton<IMessageStore, SqliteMessageStore>();
        services.AddSingleton<SqliteMessageWriter>();
        services.AddSingleton<IMessageWriter>(sp => sp.GetRequiredService<SqliteMessageWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<SqliteMessageWriter>());
        services.AddHostedService<WalCheckpointer>();

        // Auth
        services.AddSingleton<IPasswordHasher<UserRow>, PasswordHasher<UserRow>>();
        services.AddSingleton<PasswordService>();
        services.AddSingleton<TokenService>();
        services.AddSingleton<LoginThrottle>();

        // Messaging and realtime
        services.AddSingleton<SendRateLimiter>();
        services.AddSingleton<SendMessageHandler>();
        services.AddSingleton<ReadHandler>();
        services.AddSingleton<ConnectionRegistry>();
        services.AddSingleton<IDelivery, LocalDelivery>();
        services.AddSingleton<ICommitListener, MessageDispatcher>();
        services.AddSingleton<PresenceNotifier>();
        services.AddSingleton<ClientFrameHandler>();
        services.AddSingleton<ChatSession>();
        services.AddSingleton<OutboundBudget>();
        services.AddHostedService<ConnectionSweeper>();
        return services;
    }

    public static WebApplication UseChat(this WebApplication app)
    {
        // Settings first: a bad one stops here, before the database is touched.
        var options = app.Services.GetRequiredService<IOptions<ChatOptions>>().Value;
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Chat.Server");
        var database = app.Services.GetRequiredService<SqliteDatabase>();
        using (var connection = database.Open())
        {
            Migrations.Apply(connection, logger);
            // What a crash left in the WAL is made durable before anything is shown, then it is the stream position.
            database.SyncWalOnStart();
            app.Services.GetRequiredService<StreamPosition>().Advance(connection.ExecuteScalar<long?>("SELECT MAX(id) FROM messages") ?? 0);
        }

        var registry = app.Services.GetRequiredService<ConnectionRegistry>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(app.Services.GetRequiredService<StartupFailure>().Started);
        // Runs before Kestrel stops: sockets finish their in-flight sends, then close with 1001, and
        // Kestrel's own shutdown waits for them.
        lifetime.ApplicationStopping.Register(() => registry.ShutdownAsync(options.CloseTimeout).Wait(options.CloseTimeout * 2));

        app.UseTrustedProxies(options);
        app.UseRequestLog();
        app.UseChatErrors();
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
        app.MapGet("/healthz", HealthAsync).WithTags("Health").Produces(200).ProducesProblem(503);
        app.MapAuth();
        app.MapUsers();
        app.MapMessaging();
        app.MapChatWebSocket();
        return app;
    }

    private static async Task<IResult> HealthAsync(SqliteDatabase db, CancellationToken ct)
    {
        try
        {
            await using var connection = await db.OpenAsync(ct);
            await connection.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM schema_version");
            // Readers keep working while another process holds the write lock, so probe the lock too:
            // a server that cannot commit is not healthy.
            // Separate commands: PRAGMA busy_timeout returns a row, and the provider then swallows the error of a
            // later statement in the same command (BEGIN IMMEDIATE's "database is locked").
            await connection.ExecuteScalarAsync<long>("PRAGMA busy_timeout=1000");
            await connection.ExecuteAsync("BEGIN IMMEDIATE; ROLLBACK;", commandTimeout: 1);
            return TypedResults.Text("{\"status\":\"healthy\"}", "application/json");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Problems.Create(503, ErrorCodes.Internal, "The database cannot be reached or is locked.");
        }
    }
}
