using Dapper;

namespace Chat.Server.Storage;

/// <summary>
/// The store chosen by <c>Chat:Database:Provider</c> (contract section 1): <c>Sqlite</c> (the default, one file, with its
/// WAL checkpointer) or <c>Postgres</c>. Both share the stores' SQL (<see cref="UserStore"/>, <see cref="MessageStore"/>,
/// <see cref="WriterSession"/>); each brings its database (with its migrations and write-lock probe) and its write side. Also the stream
/// position and the migrations run at start (<see cref="StorageInitializer"/>).
/// </summary>
public static class StorageServices
{
    public static IServiceCollection AddChatStorage(this IServiceCollection services, IConfiguration configuration)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        // An unknown value is refused at start by the options validator (ChatOptions.Database.Provider).
        var postgres = string.Equals(configuration["Chat:Database:Provider"], "Postgres", StringComparison.OrdinalIgnoreCase);
        if (postgres)
        {
            services.AddSingleton<PostgresDatabase>();
            services.AddSingleton<IChatDatabase>(sp => sp.GetRequiredService<PostgresDatabase>());
            services.AddSingleton<GroupCommitWriter, PostgresMessageWriter>();
        }
        else
        {
            services.AddSingleton<SqliteDatabase>();
            services.AddSingleton<IChatDatabase>(sp => sp.GetRequiredService<SqliteDatabase>());
            services.AddSingleton<GroupCommitWriter, SqliteMessageWriter>();
        }
        services.AddHealthChecks().AddCheck<DatabaseHealthCheck>("database", tags: [Hosting.HealthEndpoint.DatabaseTag, Hosting.HealthEndpoint.ReadyTag]);
        services.AddSingleton<UserStore>();
        services.AddSingleton(sp => new CachingUserStore(sp.GetRequiredService<UserStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<IUserStore>(sp => sp.GetRequiredService<CachingUserStore>());
        services.AddSingleton<ITokenStore>(sp => sp.GetRequiredService<UserStore>());
        services.AddSingleton<StreamPosition>();
        // First of the hosted services: migrations run before anything else starts.
        services.AddHostedService<StorageInitializer>();
        services.AddSingleton<IMessageStore, MessageStore>();
        services.AddSingleton<IMessageWriter>(sp => sp.GetRequiredService<GroupCommitWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<GroupCommitWriter>());
        if (!postgres) services.AddHostedService<WalCheckpointer>();
        return services;
    }
}
