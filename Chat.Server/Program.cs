using Chat.Server;
using Chat.Server.Storage;

// `migrate-to-postgres` copies an SQLite database into an empty PostgreSQL one (Storage/Postgres/SqliteToPostgres.cs);
// `backup PATH` copies the live SQLite database into a new file (Storage/Sqlite/SqliteBackup.cs), `restore BACKUP` puts one
// back (Storage/Sqlite/SqliteRestore.cs); anything else runs the server.
if (args.Length > 0 && args[0] == SqliteToPostgres.Command)
    return await SqliteToPostgres.RunAsync(args, Console.Out, Console.Error);
if (args.Length > 0 && args[0] == SqliteBackup.Command)
    return await SqliteBackup.RunAsync(args, Console.Out, Console.Error);
if (args.Length > 0 && args[0] == SqliteRestore.Command)
    return await SqliteRestore.RunAsync(args, Console.Out, Console.Error, TimeProvider.System);
// A first argument that is neither a setting (--key, -k, /key, key=value) nor a command is a mistyped command: refused
// with one line rather than starting the server on the production database.
if (args.Length > 0 && !args[0].StartsWith('-') && !args[0].StartsWith('/') && !args[0].Contains('='))
{
    await Console.Error.WriteLineAsync($"Unknown command '{args[0]}': expected {SqliteBackup.Command} PATH, {SqliteRestore.Command} BACKUP, {SqliteToPostgres.Command} --from ... --to ..., or settings only (--key=value) to run the server.");
    return 1;
}
return await ChatHost.RunAsync(args);

/// <summary>Entry point; exposed so tests can reference the assembly.</summary>
public partial class Program;
