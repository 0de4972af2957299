using System.Diagnostics;

namespace Chat.Bench;

/// <summary>fanout, ladder, rates, max, smoke and sockets: the real-time scenarios.</summary>
public static class Scenarios
{
    private static readonly string[] StepHeaders =
        ["rate", "sent", "acked", "delivered", "deliv/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "ack p99", "lost", "srv cpu", "bench cpu", "result"];

    private static object?[] StepRow(StepResult r) =>
    [
        r.Kind == "max" ? $"W={r.Window}" : r.OfferedRate, r.Sent, r.Acked, r.Delivered, r.DeliveredPerSecond,
        r.Delivery.P50Ms, r.Delivery.P90Ms, r.Delivery.P99Ms, r.Delivery.MaxMs, r.Ack.P99Ms, r.Lost, r.ServerCpuCores, r.BenchCpuCores, r.Verdict,
    ];

    private sealed record Setup(ServerHandle Server, Conn[] Conns, byte[][] Prefixes, BenchUser[] Users, double ConnectSeconds);

    private static async Task<Setup> SetUpAsync(Args args, int users, bool quiet)
    {
        var server = await ServerHandle.StartAsync(args);
        try
        {
            Console.WriteLine($"server: {server.Mode} {server.BaseUri}{(server.Pid is { } pid ? $" pid {pid}" : "")}");
            using var http = Http.CreateClient(server.BaseUri);
            var registered = await Http.RegisterAsync(http, Http.RunTag(), users, args.Int("register-concurrency", Math.Max(2, Environment.ProcessorCount * 2)), quiet);
            var (conns, seconds, failures, error) = await Conn.ConnectManyAsync(registered, 1, server.WsUri, 16, quiet: true);
            if (failures > 0) throw new InvalidOperationException($"{failures} sockets failed to connect: {error}");
            var prefixes = Conn.BuildPrefixes(registered);
            foreach (var c in conns) _ = c.StartOpenLoopSender(prefixes);
            return new Setup(server, conns, prefixes, registered, seconds);
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    private static async Task TearDownAsync(Setup setup)
    {
        await Task.WhenAll(setup.Conns.Select(c => c.CloseAsync()));
        await setup.Server.DisposeAsync();
    }

    public static async Task<int> FanoutAsync(Args args, bool smoke)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var users = args.Int("users", smoke ? 20 : 100);
        var rate = args.Double("rate", smoke ? 200 : 5000);
        var seconds = args.Double("duration", smoke ? 3 : 10);
        var warmup = args.Double("warmup", smoke ? 0 : 2);
        var drain = args.Double("drain", 10);
        var bound = args.Double("p99-bound", 20);
        var quiet = args.Flag("quiet");
        var setup = await SetUpAsync(args, users, quiet);
        StepResult r;
        try
        {
            if (warmup > 0)
            {
                var w = await Load.OpenLoopAsync(setup.Conns, setup.Prefixes, 0, rate, warmup, drain, 7, setup.Server, quiet: true);
                Console.WriteLine($"warm-up {warmup} s at {rate}/s: delivered {w.Delivered}, p99 {w.Delivery.P99Ms} ms ({w.Verdict})");
            }
            Console.WriteLine($"{(smoke ? "smoke" : "fanout")}: {users} users, {rate} msgs/s for {seconds} s, 64-byte messages to random partners");
            r = await Load.OpenLoopAsync(setup.Conns, setup.Prefixes, 1, rate, seconds, drain, 42, setup.Server, quiet);
        }
        finally { await TearDownAsync(setup); }

        Output.Table(smoke ? "smoke" : "fanout", StepHeaders, [StepRow(r)]);
        Console.WriteLine($"delivery latency (scheduled send -> receiver's chat_message): p50 {r.Delivery.P50Ms} ms, p90 {r.Delivery.P90Ms} ms, p99 {r.Delivery.P99Ms} ms, p99.9 {r.Delivery.P999Ms} ms, max {r.Delivery.MaxMs} ms");
        Console.WriteLine($"counts: scheduled {r.Scheduled}, sent {r.Sent}, acked {r.Acked}, delivered {r.Delivered}, lost {r.Lost}, unacked {r.Unacked}, errors {r.Errors}, duplicates {r.Duplicates}");
        var withinBound = r.Delivery.P99Ms <= bound;
        Console.WriteLine($"p99 {(withinBound ? "within" : "ABOVE")} the {bound} ms bound; server RSS {r.ServerRssMiB} MiB");
        Output.WriteJson(args, smoke ? "smoke" : "fanout", new { users, rate, seconds, warmup, p99_bound_ms = bound, step = r }, setup.Server, r.Passed, started, load);
        if (!r.Passed) Console.Error.WriteLine($"FAILED: {r.Verdict}");
        return r.Passed ? 0 : 1;
    }

    public static async Task<int> LadderAsync(Args args)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var users = args.Int("users", 100);
        var rates = args.Ints("rates", [1000, 2000, 5000, 10000, 15000, 20000, 30000, 40000, 50000, 60000]);
        var seconds = args.Double("duration", 5);
        var warmup = args.Double("warmup", 2);
        var drain = args.Double("drain", 10);
        var bound = args.Double("p99-bound", 20);
        var quiet = !args.Flag("verbose");
        var allSteps = args.Flag("all-steps");
        var setup = await SetUpAsync(args, users, quiet);
        var steps = new List<StepResult>();
        double best = 0;
        string stop = "all rates passed";
        try
        {
            if (warmup > 0)
                await Load.OpenLoopAsync(setup.Conns, setup.Prefixes, 0, rates[0], warmup, drain, 7, setup.Server, quiet: true);
            for (var i = 0; i < rates.Length; i++)
            {
                var r = await Load.OpenLoopAsync(setup.Conns, setup.Prefixes, i + 1, rates[i], seconds, drain, 42 + i, setup.Server, quiet);
                var sustained = r.Passed && r.Delivery.P99Ms <= bound;
                if (r.Passed && !sustained) r.Verdict = $"p99 {r.Delivery.P99Ms} ms > {bound} ms";
                r.Passed = sustained;
                steps.Add(r);
                Console.WriteLine($"  {rates[i],6}/s: delivered {r.DeliveredPerSecond}/s, p50 {r.Delivery.P50Ms} ms, p99 {r.Delivery.P99Ms} ms, max {r.Delivery.MaxMs} ms, lost {r.Lost}, server cpu {r.ServerCpuCores}, bench cpu {r.BenchCpuCores} -> {r.Verdict}");
                if (!sustained)
                {
                    if (stop == "all rates passed") stop = $"first failure at {rates[i]}/s: {r.Verdict}";
                    if (!allSteps || r.Lost > 0) break;
                    continue;
                }
                if (stop == "all rates passed") best = rates[i];
                await Task.Delay(500);
            }
        }
        finally { await TearDownAsync(setup); }

        Output.Table($"ladder ({users} users, {seconds} s per step, p99 bound {bound} ms)", StepHeaders, steps.Select(StepRow));
        Console.WriteLine($"highest sustainable rate: {best} msgs/s ({stop})");
        var lossFree = steps.All(s => s.Lost == 0);
        Output.WriteJson(args, "ladder", new { users, seconds, p99_bound_ms = bound, highest_sustainable_rate = best, stop_reason = stop, steps }, setup.Server, lossFree, started, load);
        return lossFree ? 0 : 1;
    }

    /// <summary>
    /// Open-loop fan-out at fixed ordinary rates (default 500, 2,000 and 5,000 msgs/s), every step run whatever the one
    /// before did, printing for each the server's CPU per delivered message (µs: average server cores × 10^6 / delivered
    /// per second) and delivery p50/p99. Where most servers spend their life: the per-batch costs (transaction, fsync,
    /// wake-ups) show here, not at the closed-loop maximum.
    /// </summary>
    public static async Task<int> RatesAsync(Args args)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var users = args.Int("users", 100);
        var rates = args.Ints("rates", [500, 2000, 5000]);
        var seconds = args.Double("duration", 10);
        var warmup = args.Double("warmup", 3);
        var drain = args.Double("drain", 10);
        var quiet = !args.Flag("verbose");
        var setup = await SetUpAsync(args, users, quiet);
        var steps = new List<StepResult>();
        try
        {
            if (warmup > 0)
                await Load.OpenLoopAsync(setup.Conns, setup.Prefixes, 0, rates[0], warmup, drain, 7, setup.Server, quiet: true);
            for (var i = 0; i < rates.Length; i++)
            {
                var r = await Load.OpenLoopAsync(setup.Conns, setup.Prefixes, i + 1, rates[i], seconds, drain, 42 + i, setup.Server, quiet);
                steps.Add(r);
                Console.WriteLine($"  {rates[i],6}/s: delivered {r.DeliveredPerSecond}/s, server {CpuMicrosPerMessage(r)} µs/msg ({r.ServerCpuCores} cores), p50 {r.Delivery.P50Ms} ms, p99 {r.Delivery.P99Ms} ms, lost {r.Lost}");
                await Task.Delay(500);
            }
        }
        finally { await TearDownAsync(setup); }

        Output.Table($"rates ({users} users, {seconds} s per rate)", ["rate", "delivered/s", "srv cores", "srv µs/msg", "bench cores", "p50 ms", "p99 ms", "max ms", "lost", "result"],
            steps.Select(r => new object?[] { r.OfferedRate, r.DeliveredPerSecond, r.ServerCpuCores, CpuMicrosPerMessage(r), r.BenchCpuCores, r.Delivery.P50Ms, r.Delivery.P99Ms, r.Delivery.MaxMs, r.Lost, r.Verdict }));
        var lossFree = steps.All(s => s.Lost == 0 && s.Passed);
        Output.WriteJson(args, "rates", new
        {
            users, seconds,
            steps = steps.Select(r => new { rate = r.OfferedRate, server_cpu_us_per_message = CpuMicrosPerMessage(r), step = r }),
        }, setup.Server, lossFree, started, load);
        return lossFree ? 0 : 1;
    }

    /// <summary>Server CPU per delivered message in µs, or NaN when nothing was delivered or the server's CPU is not observable.</summary>
    private static double CpuMicrosPerMessage(StepResult r) =>
        r.DeliveredPerSecond > 0 && r.ServerCpuCores > 0 ? Math.Round(r.ServerCpuCores * 1e6 / r.DeliveredPerSecond, 1) : double.NaN;

    public static async Task<int> MaxAsync(Args args)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var users = args.Int("users", 100);
        var window = args.Int("window", 16);
        var seconds = args.Double("duration", 10);
        var warmup = args.Double("warmup", 2);
        var drain = args.Double("drain", 15);
        var quiet = args.Flag("quiet");
        var setup = await SetUpAsync(args, users, quiet);
        StepResult r;
        try
        {
            if (warmup > 0) await Load.ClosedLoopAsync(setup.Conns, setup.Prefixes, 0, window, warmup, drain, 7, setup.Server, quiet: true);
            Console.WriteLine($"max: {users} users, window {window} unacknowledged sends each, {seconds} s");
            r = await Load.ClosedLoopAsync(setup.Conns, setup.Prefixes, 1, window, seconds, drain, 42, setup.Server, quiet);
        }
        finally { await TearDownAsync(setup); }
        Output.Table("max (closed loop)", StepHeaders, [StepRow(r)]);
        Console.WriteLine($"acked {r.AckedPerSecond}/s, delivered {r.DeliveredPerSecond}/s; delivery latency (actual send -> chat_message) p50 {r.Delivery.P50Ms} ms, p99 {r.Delivery.P99Ms} ms; lost {r.Lost}");
        Output.WriteJson(args, "max", new { users, window, seconds, step = r }, setup.Server, r.Passed, started, load);
        return r.Passed ? 0 : 1;
    }

    /// <summary>
    /// C idle authenticated sockets. Memory per socket is the server's marginal RSS: read after a first
    /// batch of sockets has warmed up the code paths and pools, and again after the rest are open.
    /// </summary>
    public static async Task<int> SocketsAsync(Args args)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var count = args.Int("sockets", 10000);
        var perUser = args.Int("sockets-per-user", 10);
        var settle = args.Double("settle", 3);
        var concurrency = args.Int("connect-concurrency", 32);
        var users = (count + perUser - 1) / perUser;
        var server = await ServerHandle.StartAsync(args);
        Console.WriteLine($"server: {server.Mode} {server.BaseUri}{(server.Pid is { } pid ? $" pid {pid}" : "")}; open files {Machine.OpenFileLimit()}");
        var all = new List<Conn>();
        Dictionary<string, object?> results;
        var passed = false;
        try
        {
            using var http = Http.CreateClient(server.BaseUri);
            var registered = await Http.RegisterAsync(http, Http.RunTag(), users, args.Int("register-concurrency", Math.Max(2, Environment.ProcessorCount * 2)));
            // Warm-up batch: one socket for each of the first users (at most 10% of the total).
            var warmUsers = registered.Take(Math.Max(1, Math.Min(users, count / 10))).ToArray();
            var (warm, _, warmFailures, warmError) = await Conn.ConnectManyAsync(warmUsers, 1, server.WsUri, concurrency, 1024, quiet: true);
            all.AddRange(warm);
            if (warmFailures > 0) throw new InvalidOperationException($"warm-up sockets failed: {warmError}");
            await Task.Delay(TimeSpan.FromSeconds(settle));
            var heap0 = server.Mode == "in-process" ? GC.GetTotalMemory(forceFullCollection: true) : 0;
            var rss0 = server.RssKiB;

            // The rest: perUser sockets per user, minus the one warm socket of the warm users.
            var rest = new List<BenchUser>();
            for (var k = 0; k < perUser; k++)
                foreach (var u in registered)
                    if (!(k == 0 && u.Index < warmUsers.Length) && rest.Count + warm.Length < count) rest.Add(u);
            Console.WriteLine($"opening {rest.Count} more sockets ({perUser} per user, {concurrency} handshakes at a time)...");
            var (conns, seconds, failures, error) = await Conn.ConnectManyAsync(rest, 1, server.WsUri, concurrency, 1024);
            all.AddRange(conns);
            await Task.Delay(TimeSpan.FromSeconds(settle));
            var open = all.Count(c => !c.Closed && c.Ws.State == System.Net.WebSockets.WebSocketState.Open);
            var heap1 = server.Mode == "in-process" ? GC.GetTotalMemory(forceFullCollection: true) : 0;
            var rss1 = server.RssKiB;
            var added = conns.Count(c => !c.Closed && c.Ws.State == System.Net.WebSockets.WebSocketState.Open);
            var perSocketKiB = added > 0 ? Math.Round((rss1 - rss0) / (double)added, 2) : double.NaN;
            if (args.Int("hold", 0) is > 0 and var hold)
            {
                // Keeps the sockets open so the server can be inspected (dotnet-gcdump, dotnet-counters).
                Console.WriteLine($"holding {open} sockets for {hold} s; server pid {server.Pid}");
                await Task.Delay(TimeSpan.FromSeconds(hold));
            }
            results = new Dictionary<string, object?>
            {
                ["sockets_requested"] = count,
                ["sockets_open"] = open,
                ["users"] = users,
                ["sockets_per_user"] = perUser,
                ["connect_failures"] = failures,
                ["first_connect_error"] = error,
                ["connects_per_second"] = Math.Round(rest.Count / seconds),
                ["server_rss_before_mib"] = Math.Round(rss0 / 1024.0, 1),
                ["server_rss_after_mib"] = Math.Round(rss1 / 1024.0, 1),
                ["server_rss_per_socket_kib"] = perSocketKiB,
                ["server_rss_total_per_socket_kib"] = open > 0 ? Math.Round(rss1 / (double)open, 2) : double.NaN,
                ["managed_heap_per_socket_kib"] = server.Mode == "in-process" && added > 0 ? Math.Round((heap1 - heap0) / 1024.0 / added, 2) : null,
                ["managed_heap_note"] = server.Mode == "in-process"
                    ? "in-process: the heap delta includes the load generator's own ClientWebSocket objects, so it is an upper bound"
                    : "separate process: managed heap not observable from here; run with --in-process for an upper bound, or dotnet-counters on the server pid",
                ["open_file_limit"] = Machine.OpenFileLimit(),
            };
            Output.Table($"sockets ({server.Mode} server)", ["sockets", "connects/s", "RSS before MiB", "RSS after MiB", "KiB/socket (marginal)", "heap KiB/socket", "failures"],
                [[open, results["connects_per_second"], results["server_rss_before_mib"], results["server_rss_after_mib"], perSocketKiB, results["managed_heap_per_socket_kib"] ?? "n/a", failures]]);
            if (failures > 0)
            {
                Console.Error.WriteLine($"{failures} connects failed (first: {error}). Each socket costs a file descriptor in this process AND in the server;");
                Console.Error.WriteLine($"the open-file limit here is {Machine.OpenFileLimit()}. Raise it before running: `ulimit -n 65536` (or LimitNOFILE= in a systemd unit), and check net.core.somaxconn / ephemeral ports (net.ipv4.ip_local_port_range) for more than ~28k sockets.");
            }
            passed = failures == 0 && open == count;
        }
        finally
        {
            await Task.WhenAll(all.Select(c => c.CloseAsync()));
            await server.DisposeAsync();
        }
        Output.WriteJson(args, "sockets", results, server, passed, started, load);
        return passed ? 0 : 1;
    }
}
