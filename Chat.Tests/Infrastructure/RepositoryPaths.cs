namespace Chat.Tests.Infrastructure;

/// <summary>Files of the repository the tests run from (docs, the web client, the TypeScript smoke client).</summary>
public static class RepositoryPaths
{
    /// <summary>The repository root (the folder holding Chat.sln), found by walking up from the test binary.</summary>
    public static string Root()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Chat.sln"))) return dir.FullName;
        throw new InvalidOperationException("Chat.sln not found above " + AppContext.BaseDirectory);
    }
}
