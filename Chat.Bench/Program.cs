using Chat.Bench;

var args0 = new Args(args);
var scenario = args0.Scenario ?? "help";
try
{
    var code = scenario switch
    {
        "smoke" => await Scenarios.FanoutAsync(args0, smoke: true),
        "fanout" => await Scenarios.FanoutAsync(args0, smoke: false),
        "ladder" => await Scenarios.LadderAsync(args0),
        "rates" => await Scenarios.RatesAsync(args0),
        "max" => await Scenarios.MaxAsync(args0),
        "sockets" => await Scenarios.SocketsAsync(args0),
        "stalled" => await Stalled.RunAsync(args0),
        "queries" => await Queries.RunAsync(args0),
        "report" => Report.Write(args0),
        _ => Usage(),
    };
    foreach (var unused in args0.Unused()) Console.Error.WriteLine($"warning: option --{unused} was not used by '{scenario}'");
    return code;
}
catch (Exception e) when (e is InvalidOperationException or FileNotFoundException or FormatException or ArgumentException or HttpRequestException)
{
    Console.Error.WriteLine($"{scenario} failed: {e.Message}");
    return 2;
}

static int Usage()
{
    Console.WriteLine("""
        Chat.Bench: drives Chat.Server over real sockets on 127.0.0.1.
        usage: dotnet run -c Release --project Chat.Bench -- SCENARIO [options]

        scenarios
          smoke     a few seconds of fanout, 20 users, 200 msgs/s; exit 1 on any loss (CI)
          fanout    --users 100 --rate 5000 --duration 10 [--warmup 2 --drain 10 --p99-bound 20]
          ladder    --rates 1000,2000,5000,10000,15000,20000,30000,40000,50000,60000 --duration 5 --p99-bound 20 [--all-steps: go on past the bound]
          rates     --rates 500,2000,5000 --duration 10: server CPU per message (µs) and p50/p99 at each ordinary rate
          max       --users 100 --window 16 --duration 10
          sockets   --sockets 10000 --sockets-per-user 10 [--connect-concurrency 32 --settle 3 --hold SECONDS]
          stalled   --stalled 20 --senders 20 --chars 4000 --rate-per-sender 20 --duration 50: users who stop reading, flooded with emoji; prints the server's peak RSS
          queries   [--small] [--sizes 10000,1000000] [--iterations 1000]
          report    writes docs/benchmarks.md and docs/bench-latency.svg from bench-results/*.json [--note TEXT]

        server (default: starts `dotnet Chat.Server.dll` as a separate process on a temporary database)
          --url http://127.0.0.1:5000   use a running server (add --server-pid N to read its RSS/CPU)
          --in-process                  host the server inside this process (RSS then includes the generator)
          --server-dll PATH             the Chat.Server.dll to start
          --server-arg --Chat:X=Y       extra server setting (repeatable), e.g. --server-arg --Chat:Synchronous=NORMAL
          --server-env NAME=VALUE       extra environment variable for the server process (repeatable)
          --keep-db                     keep the temporary database
        output
          --json PATH                   default bench-results/SCENARIO.json under the repository root
        """);
    return 64;
}
