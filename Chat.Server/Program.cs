using Chat.Server;

ChatHost.Build(args).Run();

/// <summary>Entry point; exposed so tests can reference the assembly.</summary>
public partial class Program;
