namespace Chat.Server.Storage;

/// <summary>What the SQLite maintenance commands (<see cref="SqliteBackup"/>, <see cref="SqliteRestore"/>) share: one PATH argument and the server's own configuration.</summary>
internal static class SqliteCommandLine
{
    /// <summary>
    /// Reads a command's PATH argument and the server's configuration; on a missing PATH writes <paramref name="usage"/>,
    /// on a PostgreSQL store the one line <paramref name="postgresTool"/> names, to <paramref name="error"/>, and returns null.
    /// </summary>
    public static async Task<(string Path, IConfiguration Configuration)?> ReadAsync(string[] args, string command, string usage, string postgresTool, TextWriter error)
    {
        var (path, settings) = Parse(args.Skip(1).ToArray());
        if (path is null)
        {
            await error.WriteLineAsync($"Usage: dotnet Chat.Server.dll {command} {usage}");
            return null;
        }
        var configuration = Configuration(settings);
        if (!IsSqlite(configuration))
        {
            await error.WriteLineAsync($"{command}: Chat:Database:Provider is not Sqlite; use {postgresTool} for PostgreSQL (docs/operations.md).");
            return null;
        }
        return (path, configuration);
    }

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
