using Chat.Server;

return await ChatHost.RunAsync(args);

/// <summary>Entry point; exposed so tests can reference the assembly.</summary>
public partial class Program;
