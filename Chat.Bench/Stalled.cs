using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;

namespace Chat.Bench;

/// <summary>
/// stalled: users whose sockets stop reading while others flood them with large non-ASCII messages (accounts are
/// free). Each of <c>--stalled</c> receivers opens one socket and never reads it; <c>--senders</c> senders each send
/// messages of <c>--chars</c> emoji, paced at <c>--rate-per-sender</c> (the server's default per-user rate limit), to
/// the stalled receivers in turn, for <c>--duration</c> seconds. Prints the server's RSS before, its peak (sampled
/// every 100 ms) and after, and how the stalled sockets ended once they read again. Reported, not asserted.
/// </summary>
public static class Stalled
{
    public static async Task<int> RunAsync(Args args)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var stalledCount = args.Int("stalled", 20);
        var senderCount = args.Int("senders", 20);
        var chars = args.Int("chars", 4000);
        var ratePerSender = args.Double("rate-per-sender", 20);
        var seconds = args.Double("duration", 50);
        var server = await ServerHandle.StartAsync(args);
        Console.WriteLine($"server: {server.Mode} {server.BaseUri}{(server.Pid is { } pid ? $" pid {pid}" : "")}");
        var stalled = new List<ClientWebSocket>();
        var senders = new List<ClientWebSocket>();
        Dictionary<string, object?> results;
        try
        {
            using var http = Http.CreateClient(server.BaseUri);
            var users = await Http.RegisterAsync(http, Http.RunTag(), stalledCount + senderCount, 4, quiet: true);
            var receivers = users.Take(stalledCount).ToArray();
            foreach (var r in receivers) stalled.Add(await ConnectAsync(server.WsUri, r.Token));
            foreach (var s in users.Skip(stalledCount)) senders.Add(await ConnectAsync(server.WsUri, s.Token));
            await Task.Delay(1000);
            var rssBefore = server.RssKiB;

            long sent = 0, acked = 0, refused = 0;
            var stop = Stopwatch.StartNew();
            var body = string.Concat(Enumerable.Repeat("\U0001F600", chars));
            var senderTasks = senders.Select((socket, i) => Task.Run(async () =>
            {
                var buffer = new byte[256 * 1024];
                var interval = TimeSpan.FromSeconds(1 / ratePerSender);
                var next = stop.Elapsed;
                for (var n = 0; stop.Elapsed.TotalSeconds < seconds && socket.State == WebSocketState.Open; n++)
                {
                    var receiver = receivers[(i + n) % receivers.Length].Username;
                    // Raw UTF-8, as a browser's JSON.stringify sends it.
                    var frame = Encoding.UTF8.GetBytes($"{{\"type\":\"send_message\",\"receiver\":\"{receiver}\",\"message\":\"{body}\",\"client_msg_id\":\"s{i}-{n}\"}}");
                    await socket.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                    Interlocked.Increment(ref sent);
                    // Read up to this send's answer (message_sent frames and the ack).
                    while (true)
                    {
                        var text = await ReceiveTextAsync(socket, buffer);
                        if (text is null) return;
                        if (text.Contains("\"type\":\"ack\"", StringComparison.Ordinal)) { Interlocked.Increment(ref acked); break; }
                        if (text.Contains("\"type\":\"error\"", StringComparison.Ordinal)) { Interlocked.Increment(ref refused); break; }
                    }
                    next += interval;
                    if (next > stop.Elapsed) await Task.Delay(next - stop.Elapsed);
                }
            })).ToArray();

            long peak = rssBefore;
            while (!senderTasks.All(t => t.IsCompleted))
            {
                peak = Math.Max(peak, server.RssKiB);
                await Task.Delay(100);
            }
            await Task.WhenAll(senderTasks);
            var rssAfter = server.RssKiB;

            // The stalled clients read again: how did the server end each socket?
            // A socket closed as too slow gets its 1008 close frame, but a client that does not read it within the close
            // timeout is then aborted: it finds a reset when it reads again. Both count as closed by the server.
            var endings = await Task.WhenAll(stalled.Select(DrainAsync));
            var closed1008 = endings.Count(e => e == "1008");
            var aborted = endings.Count(e => e == "reset");
            var open = endings.Count(e => e == "open");
            results = new Dictionary<string, object?>
            {
                ["stalled_users"] = stalledCount,
                ["senders"] = senderCount,
                ["message_chars"] = chars,
                ["rate_per_sender"] = ratePerSender,
                ["duration_s"] = seconds,
                ["sent"] = sent,
                ["acked"] = acked,
                ["refused"] = refused,
                ["server_rss_before_mib"] = Math.Round(rssBefore / 1024.0, 1),
                ["server_rss_peak_mib"] = Math.Round(peak / 1024.0, 1),
                ["server_rss_after_mib"] = Math.Round(rssAfter / 1024.0, 1),
                ["stalled_closed_1008"] = closed1008,
                ["stalled_aborted"] = aborted,
                ["stalled_still_open"] = open,
            };
            Output.Table($"stalled ({server.Mode} server)", ["stalled", "senders", "sent", "acked", "RSS before MiB", "RSS peak MiB", "RSS after MiB", "closed 1008", "aborted", "still open"],
                [[stalledCount, senderCount, sent, acked, results["server_rss_before_mib"], results["server_rss_peak_mib"], results["server_rss_after_mib"], closed1008, aborted, open]]);
        }
        finally
        {
            foreach (var s in stalled.Concat(senders)) s.Abort();
            await server.DisposeAsync();
        }
        Output.WriteJson(args, "stalled", results, server, passed: true, started, load);
        return 0;
    }

    private static async Task<ClientWebSocket> ConnectAsync(Uri ws, string token)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        socket.Options.SetRequestHeader("Authorization", $"Bearer {token}");
        await socket.ConnectAsync(ws, CancellationToken.None);
        return socket;
    }

    private static async Task<string?> ReceiveTextAsync(ClientWebSocket socket, byte[] buffer)
    {
        var count = 0;
        ValueWebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer.AsMemory(count), CancellationToken.None);
            if (result.MessageType == WebSocketMessageType.Close) return null;
            count += result.Count;
        } while (!result.EndOfMessage);
        return Encoding.UTF8.GetString(buffer, 0, count);
    }

    /// <summary>Reads a stalled socket to its end: "1008" (or another close code), "reset" (aborted by the server), or "open".</summary>
    private static async Task<string> DrainAsync(ClientWebSocket socket)
    {
        var buffer = new byte[256 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (true)
            {
                var result = await socket.ReceiveAsync(buffer.AsMemory(), timeout.Token);
                if (result.MessageType == WebSocketMessageType.Close) return ((int?)socket.CloseStatus)?.ToString() ?? "close";
            }
        }
        catch (OperationCanceledException)
        {
            return "open";
        }
        catch (WebSocketException)
        {
            return "reset";
        }
    }
}
