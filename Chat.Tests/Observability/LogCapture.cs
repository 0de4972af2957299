using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Observability;

/// <summary>
/// A logger provider registered in the server under test: it keeps every entry that passes the server's filters, with
/// its event id, formatted message and structured fields, so tests can check the server's log events as an operator's
/// sink would see them.
/// </summary>
internal sealed class LogCapture : ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();

    public IReadOnlyList<LogEntry> Entries => [.. _entries];

    /// <summary>The entries of one event (by its name).</summary>
    public IReadOnlyList<LogEntry> Event(string name) => Entries.Where(e => e.EventId.Name == name).ToList();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose() { }

    private sealed class Logger(LogCapture capture, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var fields = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? pairs.Where(p => p.Key != "{OriginalFormat}").ToDictionary(p => p.Key, p => p.Value)
                : [];
            capture._entries.Enqueue(new LogEntry(category, logLevel, eventId, formatter(state, exception), fields, exception?.ToString()));
        }
    }
}

/// <summary>One captured log entry.</summary>
internal sealed record LogEntry(string Category, LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> Fields, string? Exception)
{
    /// <summary>Everything the entry carries, as text: what a sink could write.</summary>
    public string AllText => $"{Category} {EventId} {Message} {string.Join(' ', Fields.Select(f => $"{f.Key}={f.Value}"))} {Exception}";

    public override string ToString() => AllText;
}
