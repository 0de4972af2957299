namespace Chat.Server.Storage;

/// <summary>What the SQLite maintenance commands (<see cref="SqliteBackup"/>, <see cref="SqliteRestore"/>) share: one PATH argument and the server's own configuration.</summary>
internal static class SqliteCommandLine
{
    /// <summary>The first argument that is neither a <c>--key</c> nor its value is PATH; the rest are settings. A second PATH is an error (null).</summary>
    public static (string? Path, string[] Settings) Parse(string[] args)
    {
        string? path = null;
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith('-'))
            {
                settings.Add(args[i]);
                if (!args[i].Contains('=') && i + 1 < args.Length) settings.Add(args[++i]);
            }
            else if (path is null) path = args[i];
            else return (null, []);
        }
        return (path, [.. settings]);
    }

    /// <summary>The server's own configuration sources (appsettings.json beside the binary, environment, command line), in the same order of priority.</summary>
    public static IConfiguration Configuration(string[] settings)
    {
        var environment = Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? "Production";
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(settings)
            .Build();
    }

    /// <summary>True when the configured store is SQLite (the default).</summary>
    public static bool IsSqlite(IConfiguration configuration) =>
        string.Equals(configuration["Chat:Database:Provider"] ?? "Sqlite", "Sqlite", StringComparison.OrdinalIgnoreCase);

    /// <summary>The configured database's connection string (<c>ConnectionStrings:Chat</c>, default <c>Data Source=chat.db</c>).</summary>
    public static string ConnectionString(IConfiguration configuration) => configuration.GetConnectionString("Chat") ?? "Data Source=chat.db";
}
