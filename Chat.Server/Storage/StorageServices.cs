using Dapper;

namespace Chat.Server.Storage;

/// <summary>The store: SQLite (one file), its migrations, its writer (group commit) and checkpointer, and the stream position.</summary>
public static class StorageServices
{
    public static IServiceCollection AddChatStorage(this IServiceCollection services)
    {
        DefaultTypeMap.MatchNamesWithUnderscores = true;
        services.AddSingleton<SqliteDatabase>();
        services.AddSingleton<SqliteUserStore>();
        services.AddSingleton<IUserStore>(sp => new CachingUserStore(sp.GetRequiredService<SqliteUserStore>(), sp.GetRequiredService<TimeProvider>()));
        services.AddSingleton<ITokenStore>(sp => sp.GetRequiredService<SqliteUserStore>());
        services.AddSingleton<StreamPosition>();
        // First of the hosted services: migrations run before anything else starts.
        services.AddHostedService<StorageInitializer>();
        services.AddSingleton<IMessageStore, SqliteMessageStore>();
        services.AddSingleton<SqliteMessageWriter>();
        services.AddSingleton<IMessageWriter>(sp => sp.GetRequiredService<SqliteMessageWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<SqliteMessageWriter>());
        services.AddHostedService<WalCheckpointer>();
        return services;
    }
}
