using System.Diagnostics;
using HdrHistogram;

namespace Chat.Bench;

public sealed record Latency(long Count, double P50Ms, double P90Ms, double P99Ms, double P999Ms, double MaxMs)
{
    public static Latency From(HistogramBase h) => h.TotalCount == 0
        ? new Latency(0, 0, 0, 0, 0, 0)
        : new Latency(h.TotalCount, Ms(h.GetValueAtPercentile(50)), Ms(h.GetValueAtPercentile(90)), Ms(h.GetValueAtPercentile(99)),
            Ms(h.GetValueAtPercentile(99.9)), Ms(h.GetMaxValue()));

    private static double Ms(long micros) => Math.Round(micros / 1000.0, 3);
}

/// <summary>The figures of one open-loop (fanout) step or one closed-loop (max) run.</summary>
public sealed class StepResult
{
    public string Kind { get; init; } = "";
    public int Step { get; init; }
    public double OfferedRate { get; init; }
    public int Window { get; init; }
    public double Seconds { get; init; }
    public long Scheduled { get; init; }
    public long Sent { get; init; }
    public long Acked { get; init; }
    public long Delivered { get; init; }
    public long Errors { get; init; }
    public long Duplicates { get; init; }
    public long Stale { get; init; }
    /// <summary>Acknowledged (so committed) but never delivered to the receiver's socket after the drain.</summary>
    public long Lost { get; init; }
    public long Unacked { get; init; }
    public double SentPerSecond { get; init; }
    public double AckedPerSecond { get; init; }
    public double DeliveredPerSecond { get; init; }
    public double SchedulerLagMs { get; init; }
    public required Latency Delivery { get; init; }
    public required Latency Ack { get; init; }
    public double ServerCpuCores { get; init; }
    public double BenchCpuCores { get; init; }
    public long ServerRssMiB { get; init; }
    public int SocketsClosed { get; init; }
    public bool Passed { get; set; }
    public string? Verdict { get; set; }
}

/// <summary>The load generator: open-loop schedules and closed-loop windows over connected sockets.</summary>
public static class Load
{
    /// <summary>
    /// Open loop: message k is due at t0 + k/R, whatever happened to earlier ones, and its latency is
    /// measured from that due time (no coordinated omission). A dedicated thread hands due messages,
    /// each from a random user to a random other user, to the sender's socket loop.
    /// </summary>
    public static async Task<StepResult> OpenLoopAsync(Conn[] conns, byte[][] prefixes, int step, double rate, double seconds,
        double drainSeconds, int seed, ServerHandle server, bool quiet)
    {
        var total = Math.Max(1, (long)(rate * seconds));
        var state = new RunState(step, total);
        foreach (var c in conns) c.State = state;
        var freq = (double)Stopwatch.Frequency;
        var cpu0 = server.CpuTime;
        var self0 = Process.GetCurrentProcess().TotalProcessorTime;
        var t0 = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20;
        var users = conns.Length;
        var scheduleEnd = 0L;

        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            var rng = new Random(seed);
            long next = 0;
            while (next < total)
            {
                var now = Stopwatch.GetTimestamp();
                var due = now < t0 ? 0 : Math.Min(total, (long)((now - t0) / freq * rate) + 1);
                for (; next < due; next++)
                {
                    var s = rng.Next(users);
                    var r = rng.Next(users - 1);
                    if (r >= s) r++;
                    var sched = t0 + (long)(next / rate * freq);
                    state.SendTicks[next] = sched;
                    conns[s].Outbox!.Writer.TryWrite(new SendItem(next, r, sched));
                }
                if (next < total) Thread.Sleep(1);
            }
            scheduleEnd = Stopwatch.GetTimestamp();
            done.SetResult();
        }) { IsBackground = true, Name = "scheduler", Priority = ThreadPriority.AboveNormal };
        thread.Start();

        using var progress = quiet ? null : new Timer(_ => Console.WriteLine(
            $"  t={(Stopwatch.GetTimestamp() - t0) / freq,5:F1}s sent {Interlocked.Read(ref state.Sent)} acked {Interlocked.Read(ref state.Acked)} delivered {Interlocked.Read(ref state.Delivered)}"),
            null, 1000, 1000);
        await done.Task;
        var intendedEnd = t0 + (long)(seconds * freq);
        await DrainAsync(state, conns, total, drainSeconds);
        return Finish("fanout", state, conns, step, rate, 0, seconds, total, t0, (scheduleEnd - intendedEnd) / freq * 1000, cpu0, self0, server,
            (Math.Max(state.LastDeliveryTicks, intendedEnd) - t0) / freq);
    }

    /// <summary>Closed loop: every socket keeps <paramref name="window"/> sends unacknowledged for <paramref name="seconds"/>.</summary>
    public static async Task<StepResult> ClosedLoopAsync(Conn[] conns, byte[][] prefixes, int step, int window, double seconds,
        double drainSeconds, int seed, ServerHandle server, bool quiet)
    {
        var capacity = (long)Math.Min(50_000_000, 300_000 * Math.Max(1, seconds));
        var state = new RunState(step, capacity);
        foreach (var c in conns) c.State = state;
        var freq = (double)Stopwatch.Frequency;
        var cpu0 = server.CpuTime;
        var self0 = Process.GetCurrentProcess().TotalProcessorTime;
        var t0 = Stopwatch.GetTimestamp();
        var senders = new Task[conns.Length];
        for (var i = 0; i < conns.Length; i++) senders[i] = conns[i].StartClosedLoopSender(prefixes, prefixes.Length, window, seed + i);

        using var progress = quiet ? null : new Timer(_ => Console.WriteLine(
            $"  t={(Stopwatch.GetTimestamp() - t0) / freq,5:F1}s sent {Interlocked.Read(ref state.Sent)} acked {Interlocked.Read(ref state.Acked)} delivered {Interlocked.Read(ref state.Delivered)}"),
            null, 1000, 1000);
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var elapsed = (Stopwatch.GetTimestamp() - t0) / freq;
        var ackedAtEnd = Interlocked.Read(ref state.Acked);
        var deliveredAtEnd = Interlocked.Read(ref state.Delivered);
        state.Stopping = true;
        foreach (var c in conns) c.Window!.Release(window);
        await Task.WhenAll(senders);
        var sent = Interlocked.Read(ref state.Sent);
        await DrainAsync(state, conns, sent, drainSeconds);
        var r = Finish("max", state, conns, step, 0, window, seconds, sent, t0, 0, cpu0, self0, server, elapsed);
        // In a closed loop the rate is what completed inside the measured window.
        return new StepResult
        {
            Kind = r.Kind, Step = r.Step, Window = window, Seconds = r.Seconds, Scheduled = r.Scheduled, Sent = r.Sent, Acked = r.Acked,
            Delivered = r.Delivered, Errors = r.Errors, Duplicates = r.Duplicates, Stale = r.Stale, Lost = r.Lost, Unacked = r.Unacked,
            SentPerSecond = Math.Round(sent / elapsed), AckedPerSecond = Math.Round(ackedAtEnd / elapsed), DeliveredPerSecond = Math.Round(deliveredAtEnd / elapsed),
            Delivery = r.Delivery, Ack = r.Ack, ServerCpuCores = r.ServerCpuCores, BenchCpuCores = r.BenchCpuCores, ServerRssMiB = r.ServerRssMiB,
            SocketsClosed = r.SocketsClosed, Passed = r.Passed, Verdict = r.Verdict,
        };
    }

    private static async Task DrainAsync(RunState state, Conn[] conns, long expected, double drainSeconds)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(drainSeconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline)
        {
            var sent = Interlocked.Read(ref state.Sent);
            var acked = Interlocked.Read(ref state.Acked);
            var errors = Interlocked.Read(ref state.Errors);
            var delivered = Interlocked.Read(ref state.Delivered);
            if (sent >= expected && acked + errors >= sent && delivered >= acked) break;
            if (Array.TrueForAll(conns, c => c.Closed)) break;
            await Task.Delay(20);
        }
    }

    private static StepResult Finish(string kind, RunState state, Conn[] conns, int step, double rate, int window, double seconds, long scheduled,
        long t0, double lagMs, TimeSpan cpu0, TimeSpan self0, ServerHandle server, double elapsedSeconds)
    {
        var freq = (double)Stopwatch.Frequency;
        var wall = (Stopwatch.GetTimestamp() - t0) / freq;
        long lost = 0, unacked = 0;
        var sent = Interlocked.Read(ref state.Sent);
        for (long i = 0; i < Math.Min(state.Capacity, Math.Max(sent, scheduled)); i++)
        {
            if (state.AckedFlags[i] == 0) unacked++;
            else if (state.DeliveredFlags[i] == 0) lost++;
        }
        // Sends never made (socket closed) are not "unacked"; errors answered are not either.
        unacked = Math.Max(0, unacked - (Math.Max(sent, scheduled) - sent) - Interlocked.Read(ref state.Errors));
        var closed = conns.Count(c => c.Closed);
        elapsedSeconds = Math.Max(elapsedSeconds, 0.001);
        var ackSpan = Math.Max((state.LastAckTicks - t0) / freq, 0.001);
        var result = new StepResult
        {
            Kind = kind, Step = step, OfferedRate = rate, Window = window, Seconds = seconds, Scheduled = scheduled,
            Sent = sent, Acked = state.Acked, Delivered = state.Delivered, Errors = state.Errors, Duplicates = state.Duplicates, Stale = state.Stale,
            Lost = lost, Unacked = unacked,
            SentPerSecond = Math.Round(sent / Math.Max(seconds, 0.001)),
            AckedPerSecond = Math.Round(state.Acked / ackSpan),
            DeliveredPerSecond = Math.Round(state.Delivered / elapsedSeconds),
            SchedulerLagMs = Math.Round(Math.Max(0, lagMs), 1),
            Delivery = Latency.From(state.Delivery), Ack = Latency.From(state.AckLatency),
            ServerCpuCores = Math.Round((server.CpuTime - cpu0).TotalSeconds / wall, 2),
            BenchCpuCores = Math.Round((Process.GetCurrentProcess().TotalProcessorTime - self0).TotalSeconds / wall, 2),
            ServerRssMiB = server.RssKiB / 1024,
            SocketsClosed = closed,
        };
        result.Passed = lost == 0 && unacked == 0 && state.Errors == 0 && closed == 0;
        result.Verdict = result.Passed ? "ok" : $"lost {lost}, unacked {unacked}, errors {state.Errors}, sockets closed {closed}";
        return result;
    }
}
