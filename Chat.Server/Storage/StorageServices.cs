using Dapper;

namespace Chat.Server.Storage;

/// <summary>The store: SQLite (one file), its writer (group commit) and checkpointer, and the stream position.</summary>
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
        services.AddSingleton<IMessageStore, SqliteMessageStore>();
        services.AddSingleton<SqliteMessageWriter>();
        services.AddSingleton<IMessageWriter>(sp => sp.GetRequiredService<SqliteMessageWriter>());
        services.AddHostedService(sp => sp.GetRequiredService<SqliteMessageWriter>());
        services.AddHostedService<WalCheckpointer>();
        return services;
    }

    /// <summary>
    /// Before anything is served: applies the schema migrations, makes what a crash left in the WAL durable, and
    /// starts the <see cref="StreamPosition"/> at the newest stored message.
    /// </summary>
    public static void InitializeChatStorage(this IServiceProvider services, ILogger logger)
    {
        var database = services.GetRequiredService<SqliteDatabase>();
        using var connection = database.Open();
        Migrations.Apply(connection, logger);
        database.SyncWalOnStart();
        services.GetRequiredService<StreamPosition>().Advance(connection.ExecuteScalar<long?>("SELECT MAX(id) FROM messages") ?? 0);
    }
}
