using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using Chat.Server.Storage;
using HdrHistogram;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Bench;

/// <summary>
/// Fills a database directly with SQL (the schema from <see cref="SqliteMigrations"/>) at two sizes, starts the
/// server on each file and times the read paths one request at a time: user search, the conversation
/// list, a history page and a WebSocket <c>sync</c>.
/// </summary>
public static class Queries
{
    private static readonly string[] FirstNames =
    [
        "Aarav", "Alice", "Amara", "Bikash", "Bruno", "Chen", "Clara", "Dawa", "Diego", "Elena", "Emeka", "Farah", "Gita", "Hana", "Ivan",
        "Jonas", "Kiran", "Laila", "Mateo", "Mina", "Nabin", "Nora", "Omar", "Priya", "Quinn", "Rahul", "Rosa", "Sita", "Sofia", "Tenzin",
        "Uma", "Victor", "Wen", "Ximena", "Yuki", "Zara", "Anil", "Beatriz", "Carlos", "Deepa", "Erik", "Fatima", "Gabriel", "Hiro", "Isla",
        "Jamal", "Kamala", "Lars", "Maya", "Nikhil",
    ];

    private static readonly string[] LastNames =
    [
        "Acharya", "Bhusal", "Costa", "Dahal", "Evans", "Fischer", "Gurung", "Hansen", "Ito", "Jensen", "Khan", "Lama", "Moreno", "Nakamura",
        "Okafor", "Pandey", "Quispe", "Rai", "Silva", "Thapa", "Ueda", "Vargas", "Wang", "Xu", "Yadav", "Zhang", "Adhikari", "Baral", "Chand",
        "Dhakal", "Eriksen", "Ghimire", "Huang", "Iyer", "Joshi", "Karki", "Li", "Magar", "Neupane", "Oli",
    ];

    public sealed record Size(long Messages, int Users, int HubConversations, int OtherConversations);

    public static Size SizeFor(long messages) => new(
        messages,
        (int)Math.Max(1000, messages / 10),
        (int)Math.Max(100, messages / 100),
        (int)Math.Max(100, messages / 5));

    public sealed record OpResult(string Operation, long Count, double P50Ms, double P90Ms, double P99Ms, double MaxMs, double MeanMs);

    public sealed record SizeResult(Size Size, double FillSeconds, long DatabaseMiB, IReadOnlyList<OpResult> Operations);

    public static async Task<int> RunAsync(Args args)
    {
        var started = DateTimeOffset.UtcNow;
        var load = Machine.LoadAverage();
        var small = args.Flag("small");
        var sizes = args.Str("sizes") is { } s
            ? s.Split(',').Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray()
            : small ? [10_000L, 100_000L] : [10_000L, 1_000_000L];
        var iterations = args.Int("iterations", small ? 200 : 1000);
        var dir = Path.Combine(Path.GetTempPath(), "chat-bench-q-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var results = new List<SizeResult>();
        ServerHandle? last = null;
        try
        {
            foreach (var messages in sizes)
            {
                var size = SizeFor(messages);
                var db = Path.Combine(dir, $"chat-{messages}.db");
                Console.WriteLine($"filling {db}: {size.Messages:N0} messages, {size.Users:N0} users, hub user with {size.HubConversations:N0} conversations, {size.OtherConversations:N0} other conversations");
                var sw = Stopwatch.StartNew();
                var fill = Fill(db, size);
                var fillSeconds = Math.Round(sw.Elapsed.TotalSeconds, 1);
                var dbMiB = (new FileInfo(db).Length + (File.Exists(db + "-wal") ? new FileInfo(db + "-wal").Length : 0)) / (1024 * 1024);
                Console.WriteLine($"  filled in {fillSeconds} s ({size.Messages / Math.Max(0.1, fillSeconds):N0} messages/s), {dbMiB} MiB");

                await using var server = await ServerHandle.StartAsync(args, db);
                last = server;
                Console.WriteLine($"  server: {server.Mode} {server.BaseUri}");
                var ops = await MeasureAsync(server, fill, size, iterations);
                results.Add(new SizeResult(size, fillSeconds, dbMiB, ops));
                Output.Table($"queries at {size.Messages:N0} messages ({iterations} requests each, one at a time)",
                    ["operation", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"],
                    ops.Select(o => new object?[] { o.Operation, o.P50Ms, o.P90Ms, o.P99Ms, o.MaxMs, o.MeanMs }));
            }
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            if (!args.Flag("keep-db")) { try { Directory.Delete(dir, true); } catch (IOException) { } }
            else Console.WriteLine($"databases kept in {dir}");
        }

        var growth = new List<Dictionary<string, object?>>();
        if (results.Count >= 2)
        {
            var a = results[0];
            var b = results[^1];
            foreach (var op in a.Operations)
            {
                var other = b.Operations.FirstOrDefault(o => o.Operation == op.Operation);
                if (other is null) continue;
                growth.Add(new Dictionary<string, object?>
                {
                    ["operation"] = op.Operation,
                    ["p50_small_ms"] = op.P50Ms, ["p99_small_ms"] = op.P99Ms,
                    ["p50_large_ms"] = other.P50Ms, ["p99_large_ms"] = other.P99Ms,
                    ["p99_growth"] = op.P99Ms > 0 ? Math.Round(other.P99Ms / op.P99Ms, 2) : null,
                    ["p50_growth"] = op.P50Ms > 0 ? Math.Round(other.P50Ms / op.P50Ms, 2) : null,
                });
            }
            Output.Table($"growth from {a.Size.Messages:N0} to {b.Size.Messages:N0} messages (target: p99 at most 2x)",
                ["operation", "p50 small", "p99 small", "p50 large", "p99 large", "p99 x", "within 2x"],
                growth.Select(g => new object?[] { g["operation"], g["p50_small_ms"], g["p99_small_ms"], g["p50_large_ms"], g["p99_large_ms"], g["p99_growth"], g["p99_growth"] is double x && x <= 2 ? "yes" : "NO" }));
        }
        var passed = growth.All(g => g["p99_growth"] is double x && x <= 2);
        Output.WriteJson(args, "queries", new { iterations, sizes = results, growth }, last, passed, started, load);
        return 0; // growth is reported, not asserted: a noisy machine must not fail a run
    }

    public sealed record FillInfo(string HubToken, string HubUsername, long[] HubConversationIds, long SyncAfterId, long MaxMessageId, int Users);

    /// <summary>Bulk insert through prepared commands in large transactions.</summary>
    public static FillInfo Fill(string path, Size size)
    {
        var cs = new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString();
        using var cn = new SqliteConnection(cs);
        cn.Open();
        SqliteMigrations.Apply(cn, NullLogger.Instance);
        // Rows go in table by table (messages before their conversations), so foreign keys are checked once at the end.
        Exec(cn, "PRAGMA foreign_keys=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144; PRAGMA temp_store=MEMORY;");
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var t0 = now - size.Messages / 10 - 86_400;

        // Users: 1 is the hub; 2..N the others.
        var tx = cn.BeginTransaction();
        using (var user = Prepare(cn, tx, "INSERT INTO users (id, username, username_norm, password_hash, full_name, email, email_norm, created_at) VALUES ($id, $u, $un, 'x', $f, $e, $en, $t)", "$id", "$u", "$un", "$f", "$e", "$en", "$t"))
        using (var term = Prepare(cn, tx, "INSERT OR IGNORE INTO user_search_terms (term, user_id, username_norm, is_phrase) VALUES ($term, $id, $un, $phrase)", "$term", "$id", "$un", "$phrase"))
        {
            for (var id = 1; id <= size.Users; id++)
            {
                var username = id == 1 ? "hubuser" : "user" + id.ToString("D6", CultureInfo.InvariantCulture);
                var fullName = id == 1 ? "Hub User" : FirstNames[id % FirstNames.Length] + " " + LastNames[id / FirstNames.Length % LastNames.Length];
                var email = username + "@example.com";
                // Keyed and folded exactly as the server does (UserStore, SearchFold).
                var usernameNorm = UserStore.UsernameKey(username);
                Run(user, id, username, usernameNorm, fullName, email, SearchFold.Fold(email), t0);
                foreach (var t in SearchFold.Terms(username, fullName)) Run(term, t, id, usernameNorm, SearchFold.IsPhrase(t) ? 1 : 0);
            }
        }
        tx.Commit();

        // A token for the hub: the server stores only SHA-256(token).
        var token = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        using (var cmd = cn.CreateCommand())
        {
            cmd.CommandText = "INSERT INTO tokens (user_id, token_hash, created_at, expires_at) VALUES (1, $h, $c, $e)";
            cmd.Parameters.AddWithValue("$h", SHA256.HashData(Encoding.UTF8.GetBytes(token)));
            cmd.Parameters.AddWithValue("$c", now);
            cmd.Parameters.AddWithValue("$e", now + 86_400 * 30);
            cmd.ExecuteNonQuery();
        }

        // Conversations: 1..K are the hub's (with users 2..K+1); then pairs of other users.
        var convCount = size.HubConversations + size.OtherConversations;
        var userA = new int[convCount + 1];
        var userB = new int[convCount + 1];
        var n = size.Users - 1;
        for (var c = 1; c <= size.HubConversations; c++) { userA[c] = 1; userB[c] = 1 + c; }
        for (var j = 0; j < size.OtherConversations; j++)
        {
            var a = j % n;
            var d = 1 + j / n;
            var b = (a + d) % n;
            var (x, y) = (2 + Math.Min(a, b), 2 + Math.Max(a, b));
            userA[size.HubConversations + 1 + j] = x;
            userB[size.HubConversations + 1 + j] = y;
        }

        // Messages: every 10th to one of the hub's conversations, the rest round-robin over the others.
        var count = new int[convCount + 1];
        var lastId = new long[convCount + 1];
        var prevId = new long[convCount + 1];
        var lastReceiver = new int[convCount + 1];
        var createdAt = new long[convCount + 1];
        long otherCounter = 0;
        var hubMessageIds = new List<long>();
        tx = cn.BeginTransaction();
        var msg = Prepare(cn, tx, "INSERT INTO messages (id, conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation) VALUES ($id, $c, $s, $r, $b, $t, $n)", "$id", "$c", "$s", "$r", "$b", "$t", "$n");
        var body = new StringBuilder(64);
        for (long i = 0; i < size.Messages; i++)
        {
            var id = i + 1;
            int conv = i % 10 == 0
                ? 1 + (int)(i / 10 % size.HubConversations)
                : size.HubConversations + 1 + (int)(otherCounter++ % size.OtherConversations);
            var k = count[conv]++;
            var (sender, receiver) = k % 2 == 0 ? (userA[conv], userB[conv]) : (userB[conv], userA[conv]);
            var at = t0 + i / 10;
            if (k == 0) createdAt[conv] = at;
            body.Clear();
            body.Append("message ").Append(id).Append(" from ").Append(sender).Append(" to ").Append(receiver).Append(' ');
            while (body.Length < 64) body.Append('.');
            Run(msg, id, conv, sender, receiver, body.ToString(), at, k == 0 ? 1 : 0);
            prevId[conv] = lastId[conv];
            lastId[conv] = id;
            lastReceiver[conv] = receiver;
            if (sender == 1 || receiver == 1) hubMessageIds.Add(id);
            if (id % 200_000 == 0)
            {
                tx.Commit();
                msg.Dispose();
                tx = cn.BeginTransaction();
                msg = Prepare(cn, tx, "INSERT INTO messages (id, conversation_id, sender_id, receiver_id, body, created_at, is_new_conversation) VALUES ($id, $c, $s, $r, $b, $t, $n)", "$id", "$c", "$s", "$r", "$b", "$t", "$n");
                Console.WriteLine($"  {id:N0} messages");
            }
        }
        msg.Dispose();
        tx.Commit();

        // Conversations and each member's view: the last message's receiver has it unread.
        tx = cn.BeginTransaction();
        using (var conv = Prepare(cn, tx, "INSERT INTO conversations (id, user_a, user_b, created_at) VALUES ($id, $a, $b, $t)", "$id", "$a", "$b", "$t"))
        using (var member = Prepare(cn, tx, "INSERT INTO conversation_members (user_id, conversation_id, other_user_id, last_message_id, read_up_to, unread_count) VALUES ($u, $c, $o, $l, $r, $n)", "$u", "$c", "$o", "$l", "$r", "$n"))
        {
            for (var c = 1; c <= convCount; c++)
            {
                if (count[c] == 0) continue;
                Run(conv, c, userA[c], userB[c], createdAt[c]);
                foreach (var (u, o) in new[] { (userA[c], userB[c]), (userB[c], userA[c]) })
                {
                    var unread = u == lastReceiver[c];
                    Run(member, u, c, o, lastId[c], unread ? prevId[c] : lastId[c], unread ? 1 : 0);
                }
            }
        }
        tx.Commit();
        using (var check = cn.CreateCommand())
        {
            check.CommandText = "PRAGMA foreign_key_check;";
            using var reader = check.ExecuteReader();
            if (reader.Read()) throw new InvalidOperationException($"generated data breaks a foreign key: table {reader.GetString(0)} rowid {reader.GetValue(1)}");
        }
        Exec(cn, "PRAGMA wal_checkpoint(TRUNCATE);");

        var hubConvs = Enumerable.Range(1, size.HubConversations).Select(x => (long)x).ToArray();
        var syncAfter = hubMessageIds.Count > 101 ? hubMessageIds[^101] : 0;
        return new FillInfo(token, "hubuser", hubConvs, syncAfter, size.Messages, size.Users);
    }

    private static void Exec(SqliteConnection cn, string sql)
    {
        using var cmd = cn.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static SqliteCommand Prepare(SqliteConnection cn, SqliteTransaction tx, string sql, params string[] names)
    {
        var cmd = cn.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var name in names) cmd.Parameters.Add(new SqliteParameter { ParameterName = name });
        cmd.Prepare();
        return cmd;
    }

    private static void Run(SqliteCommand cmd, params object[] values)
    {
        for (var i = 0; i < values.Length; i++) cmd.Parameters[i].Value = values[i];
        cmd.ExecuteNonQuery();
    }

    private static async Task<IReadOnlyList<OpResult>> MeasureAsync(ServerHandle server, FillInfo fill, Size size, int iterations)
    {
        using var http = Http.CreateClient(server.BaseUri, 1);
        var rng = new Random(1);
        var results = new List<OpResult>();

        async Task<OpResult> TimeAsync(string name, Func<int, Task> op)
        {
            for (var i = 0; i < Math.Min(20, iterations); i++) await op(i); // warm-up: JIT, pools, page cache
            var h = new LongHistogram(1, 60_000_000, 3);
            for (var i = 0; i < iterations; i++)
            {
                var t = Stopwatch.GetTimestamp();
                await op(i);
                h.RecordValue(Math.Max(1, RunState.Micros(Stopwatch.GetTimestamp() - t)));
            }
            var l = Latency.From(h);
            var r = new OpResult(name, l.Count, l.P50Ms, l.P90Ms, l.P99Ms, l.MaxMs, Math.Round(h.GetMean() / 1000, 3));
            Console.WriteLine($"  {name,-28} p50 {r.P50Ms,8} ms  p99 {r.P99Ms,8} ms");
            return r;
        }

        async Task GetAsync(string path)
        {
            using var request = HttpExtensions.Get(path, fill.HubToken);
            using var response = await http.SendAsync(request);
            var bytes = await response.Content.ReadAsByteArrayAsync();
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"GET {path}: {(int)response.StatusCode} {Encoding.UTF8.GetString(bytes)}");
        }

        // Search: a first name shared by 1/50 of all users (a page of 20 out of many), and one exact username.
        results.Add(await TimeAsync("search (common first name)", i => GetAsync($"api/users/search?q={FirstNames[i % FirstNames.Length].ToLowerInvariant()}&limit=20")));
        results.Add(await TimeAsync("search (unique username)", _ => GetAsync($"api/users/search?q=user{rng.Next(2, fill.Users + 1):D6}&limit=20")));
        results.Add(await TimeAsync("conversation list (50)", _ => GetAsync("api/conversations?limit=50")));
        results.Add(await TimeAsync("history page (50)", _ => GetAsync($"api/conversations/{fill.HubConversationIds[rng.Next(fill.HubConversationIds.Length)]}/messages?limit=50")));

        // sync over WebSocket: the hub's last 100 messages, timed from the request to sync_complete.
        using var ws = new ClientWebSocket();
        ws.Options.SetRequestHeader("Authorization", "Bearer " + fill.HubToken);
        await ws.ConnectAsync(server.WsUri, CancellationToken.None);
        var buffer = new byte[1 << 16];
        await ReadUntilAsync(ws, buffer, "\"connected\""u8.ToArray());
        Task<OpResult> TimeSyncAsync(string name, long after, int limit)
        {
            var frame = Encoding.UTF8.GetBytes($"{{\"type\":\"sync\",\"after_message_id\":{after},\"limit\":{limit}}}");
            return TimeAsync(name, async _ =>
            {
                await ws.SendAsync(frame, WebSocketMessageType.Text, true, CancellationToken.None);
                await ReadUntilAsync(ws, buffer, "\"sync_complete\""u8.ToArray());
            });
        }
        results.Add(await TimeSyncAsync("sync (100 messages, ws)", fill.SyncAfterId, 100));
        // A new device: the hub's first 1,000 messages, spread over all of its conversations.
        results.Add(await TimeSyncAsync("sync from the start (1,000 messages, ws)", 0, 1000));
        await ws.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        return results;
    }

    private static async Task ReadUntilAsync(ClientWebSocket ws, byte[] buffer, byte[] marker)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult r;
            do
            {
                r = await ws.ReceiveAsync(buffer.AsMemory(length), cts.Token);
                length += r.Count;
            } while (!r.EndOfMessage && length < buffer.Length);
            if (r.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"socket closed: {ws.CloseStatus} {ws.CloseStatusDescription}");
            if (buffer.AsSpan(0, length).IndexOf(marker) >= 0) return;
        }
    }
}
