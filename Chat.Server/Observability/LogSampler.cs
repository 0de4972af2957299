namespace Chat.Server.Observability;

/// <summary>
/// At most one log line per <see cref="Interval"/> for an event a client can cause at will (a refused send, a throttled
/// login): a flood must not turn into a flood of log lines (the console logger blocks when its queue is full). The next
/// line says how many were left out. Lock-free; nothing is allocated.
/// </summary>
public sealed class LogSampler
{
    /// <summary>The shortest time between two lines: one second.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    private long _nextAt = long.MinValue; // Environment.TickCount64 from which the next line may be written
    private long _skipped;

    /// <summary>True when this occurrence is to be logged; <paramref name="skipped"/> is how many were not since the last line.</summary>
    public bool TryEnter(out long skipped)
    {
        var now = Environment.TickCount64;
        var next = Volatile.Read(ref _nextAt);
        if (now < next || Interlocked.CompareExchange(ref _nextAt, now + (long)Interval.TotalMilliseconds, next) != next)
        {
            Interlocked.Increment(ref _skipped);
            skipped = 0;
            return false;
        }
        skipped = Interlocked.Exchange(ref _skipped, 0);
        return true;
    }
}
