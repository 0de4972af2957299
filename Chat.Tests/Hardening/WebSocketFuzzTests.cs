using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Hardening;

/// <summary>
/// Thousands of generated hostile frames against a live server over real Kestrel sockets. Every frame must get the
/// contract's answer (an <c>error</c> frame with the right code on a socket that stays open, or the right close code),
/// the valid sends among them must be acknowledged, and afterwards the server must be healthy, bystanders unaffected and
/// the database must hold exactly the acknowledged messages, byte for byte.
/// </summary>
[BothStores]
[TestFixture]
public sealed class WebSocketFuzzTests
{
    private const int Cases = 3000;
    private const int DefaultSeed = 4_2024_06;
    private const int MaxFrameBytes = 32 * 1024; // room for 10,000-deep JSON; oversize frames go past it
    private const int MaxMessageLength = 500;

    private enum Expect { Error, Ack, Close, Pong, SyncComplete, MessagesRead, Silent }

    private sealed record FuzzCase(string Category, byte[] Payload, Expect Expect, string[] Codes, int CloseCode = 0,
        bool Binary = false, string? ClientMsgId = null, string? Text = null, long? RepeatOf = null)
    {
        public bool IsSend { get; init; }
    }

    [Test]
    public async Task ThousandsOfHostileFramesGetTheContractsAnswerAndOnlyAcknowledgedMessagesAreStored()
    {
        var seed = HostileInput.FuzzSeed(DefaultSeed);
        TestContext.Progress.WriteLine($"[ws-fuzz] seed {seed} (CHAT_FUZZ_SEED replays it), {Cases} cases, MaxFrameBytes {MaxFrameBytes}, MaxMessageLength {MaxMessageLength}");
        await using var app = await ChatApp.StartAsync(Transport.Kestrel, new Dictionary<string, string?>
        {
            ["Chat:MaxFrameBytes"] = MaxFrameBytes.ToString(),
            ["Chat:MaxMessageLength"] = MaxMessageLength.ToString(),
            // The fuzzer never pages a sync that has more: live frames wait behind it for this long (at least 1 s).
            ["Chat:SlowConsumerTimeout"] = "00:00:01",
        });
        var fuzzer = await app.RegisterAsync("fuzzer");
        await app.RegisterAsync("target");
        var by1 = await app.RegisterAsync("bystander1");
        var by2 = await app.RegisterAsync("bystander2");

        // The conversations exist before the fuzz: bystander1-bystander2 (the outsider case) and fuzzer-target.
        var stored = new Dictionary<long, string>();
        var bystanderIds = new HashSet<long> { (await by1.SendAsync("bystander2", "before the fuzz")).Long("message_id") };
        var first = await fuzzer.SendAsync("target", "first");
        stored[first.Long("message_id")] = "first";
        await using var by1Socket = await by1.ConnectAsync();
        await using var by2Socket = await by2.ConnectAsync();
        await by1Socket.ExpectAsync("connected");
        await by2Socket.ExpectAsync("connected");

        var fuzz = new FrameFuzzer(new Random(seed), "fuzzer", "target", "bystander1", first.Long("conversation_id"))
        {
            LastMessageId = first.Long("message_id"),
        };
        var categories = new SortedDictionary<string, int>();
        var errorCodes = new SortedDictionary<string, int>();
        var closeCodes = new SortedDictionary<int, int>();
        int acks = 0, repeats = 0, utf8Dropped = 0;
        var clock = Stopwatch.StartNew();

        var socket = await ConnectAsync(fuzzer);
        try
        {
            for (var i = 0; i < Cases; i++)
            {
                var c = fuzz.Next();
                categories[c.Category] = categories.GetValueOrDefault(c.Category) + 1;
                void Require(bool ok, string what)
                {
                    if (!ok) Assert.Fail($"case {i} [{c.Category}] seed {seed}: {what}\npayload: {Preview(c)}");
                }

                int seenBefore;
                lock (socket.History) seenBefore = socket.History.Count;
                try
                {
                    await socket.SendRawAsync(c.Payload, c.Binary ? WebSocketMessageType.Binary : WebSocketMessageType.Text);
                }
                catch (WebSocketException) when (c.Expect == Expect.Close)
                {
                    // The server may already have closed on the first part of an oversize frame.
                }

                if (c.Expect == Expect.Close)
                {
                    WebSocketCloseStatus? status = null;
                    try { status = await socket.WaitClosedAsync(); }
                    catch (TimeoutException) { Require(false, $"expected close {c.CloseCode}, the socket stayed open"); }
                    if (status is null && c.CloseCode == 1007)
                    {
                        // Known server/framework race: ManagedWebSocket sends 1007 itself and aborts the stream at once,
                        // so the close frame is sometimes lost. Counted and printed; the socket did not stay open.
                        utf8Dropped++;
                    }
                    else
                    {
                        Require((int?)status == c.CloseCode, $"expected close {c.CloseCode}, got {(int?)status}");
                    }
                    List<JsonObject> answered;
                    lock (socket.History) answered = socket.History.Skip(seenBefore).ToList();
                    Require(!answered.Any(f => f.Type() is "error" or "ack"), "no error or ack before the close: " + string.Join(" ", answered.Select(f => f.ToJsonString())));
                    closeCodes[c.CloseCode] = closeCodes.GetValueOrDefault(c.CloseCode) + 1;
                    await socket.DisposeAsync();
                    socket = await ConnectAsync(fuzzer);
                    continue;
                }

                List<JsonObject> frames;
                try
                {
                    frames = await CollectAnswersAsync(socket, c);
                }
                catch (Exception e) when (e is TimeoutException or InvalidOperationException)
                {
                    Require(false, $"expected {c.Expect} {string.Join("|", c.Codes)}; the socket failed: {e.Message} (close {(int?)socket.Socket.CloseStatus})");
                    throw;
                }
                var errors = frames.Where(f => f.Type() == "error").ToList();
                var ackFrames = frames.Where(f => f.Type() == "ack").ToList();
                var all = string.Join(" ", frames.Select(f => f.ToJsonString()));
                switch (c.Expect)
                {
                    case Expect.Error:
                        Require(errors.Count == 1 && ackFrames.Count == 0, $"expected one error {string.Join("|", c.Codes)}, got: {all}");
                        var error = errors[0];
                        Require(error.Select(p => p.Key).OrderBy(k => k).SequenceEqual(FrameAssert.ErrorKeys.OrderBy(k => k)), $"error frame keys: {error.ToJsonString()}");
                        var code = error["code"]?.GetValue<string>() ?? "";
                        Require(c.Codes.Contains(code), $"expected error {string.Join("|", c.Codes)}, got {error.ToJsonString()}");
                        Require(error["client_msg_id"]?.GetValue<string>() == c.ClientMsgId, $"error must repeat client_msg_id {c.ClientMsgId ?? "null"}: {error.ToJsonString()}");
                        errorCodes[code] = errorCodes.GetValueOrDefault(code) + 1;
                        break;
                    case Expect.Ack:
                        Require(errors.Count == 0 && ackFrames.Count == 1, $"expected one ack, got: {all}");
                        var ack = ackFrames[0];
                        Require(ack["client_msg_id"]?.GetValue<string>() == c.ClientMsgId, $"ack must repeat client_msg_id {c.ClientMsgId ?? "null"}: {ack.ToJsonString()}");
                        var id = ack.Long("message_id");
                        acks++;
                        if (c.RepeatOf is { } original)
                        {
                            repeats++;
                            Require(id == original, $"a repeated client_msg_id must get the original ack ({original}): {ack.ToJsonString()}");
                        }
                        else
                        {
                            Require(stored.TryAdd(id, c.Text!), $"message_id {id} acknowledged twice");
                            if (c.ClientMsgId is not null) fuzz.Acked.Add((c.ClientMsgId, c.Text!, id));
                            fuzz.LastMessageId = Math.Max(fuzz.LastMessageId, id);
                        }
                        break;
                    case Expect.SyncComplete:
                        Require(errors.Count == 0 && frames.Count(f => f.Type() == "sync_complete") == 1, $"expected sync_complete, got: {all}");
                        break;
                    case Expect.MessagesRead:
                        Require(errors.Count == 0 && frames.Any(f => f.Type() == "messages_read" && f.Long("conversation_id") == fuzz.ConversationId), $"expected messages_read, got: {all}");
                        break;
                    case Expect.Pong:
                    case Expect.Silent:
                        Require(errors.Count == 0 && ackFrames.Count == 0, $"expected no error and no ack, got: {all}");
                        break;
                }
            }
        }
        finally
        {
            await socket.DisposeAsync();
        }
        clock.Stop();

        TestContext.Progress.WriteLine($"[ws-fuzz] {Cases} frames in {clock.Elapsed.TotalSeconds:F1}s; acks {acks} (repeats {repeats}), messages stored by the fuzzer {stored.Count}");
        TestContext.Progress.WriteLine($"[ws-fuzz] categories: {string.Join(", ", categories.Select(p => $"{p.Key}={p.Value}"))}");
        TestContext.Progress.WriteLine($"[ws-fuzz] error frames: {string.Join(", ", errorCodes.Select(p => $"{p.Key}={p.Value}"))}");
        TestContext.Progress.WriteLine($"[ws-fuzz] closes: {string.Join(", ", closeCodes.Select(p => $"{p.Key}={p.Value}"))}; invalid UTF-8 dropped without a close frame: {utf8Dropped}");
        Assert.That(acks, Is.GreaterThan(200), "the fuzz must include a fair share of valid sends");
        Assert.That(closeCodes.Keys, Is.SupersetOf(new[] { 1003, 1007, 1009 }));

        // The server still answers, and the bystanders' sockets kept working and saw nothing of the fuzz.
        using (var http = app.CreateClient())
            Assert.That((int)(await http.GetAsync("/healthz")).StatusCode, Is.EqualTo(200));
        Assert.That(by1Socket.Closed.IsCompleted || by2Socket.Closed.IsCompleted, Is.False, "bystander sockets stay open");
        await by1Socket.SendAsync(new JsonObject { ["type"] = "send_message", ["receiver"] = "bystander2", ["message"] = "still here", ["client_msg_id"] = "after" });
        var bystanderAck = await by1Socket.WaitForAsync("ack");
        bystanderIds.Add(bystanderAck.Long("message_id"));
        var delivered = await by2Socket.WaitForAsync("chat_message");
        Assert.That(delivered.Str("message"), Is.EqualTo("still here"));
        foreach (var s in new[] { by1Socket, by2Socket })
        {
            List<JsonObject> seen;
            lock (s.History) seen = [.. s.History];
            Assert.That(seen.Where(f => f.Type() is "error" || f.ToJsonString().Contains("fuzzer", StringComparison.Ordinal)), Is.Empty,
                "bystanders get no error and nothing of the fuzzer's traffic");
        }

        // The database holds exactly what was acknowledged (plus the bystanders' two messages), each text verbatim.
        Assert.That(HostileInput.Count(app, "messages"), Is.EqualTo(stored.Count + bystanderIds.Count),
            "SELECT COUNT(*) FROM messages equals the acknowledged messages");
        var rows = HostileInput.MessagesInDatabase(app);
        Assert.That(rows.Keys, Is.EquivalentTo(stored.Keys.Concat(bystanderIds)));
        foreach (var (id, text) in stored)
            Assert.That(rows[id], Is.EqualTo(text), $"message {id} is stored verbatim");
    }

    private static async Task<ChatSocket> ConnectAsync(TestUser user)
    {
        var socket = await user.ConnectAsync();
        await socket.ExpectAsync("connected");
        return socket;
    }

    /// <summary>
    /// Everything the socket sends in answer to the case: frames up to the pong of a following ping (frames are handled
    /// in order), and for a send also up to its ack or error, which come after the commit and so may follow the pong.
    /// </summary>
    private static async Task<List<JsonObject>> CollectAnswersAsync(ChatSocket socket, FuzzCase c)
    {
        await socket.SendTextAsync("{\"type\":\"ping\"}");
        var pongs = c.Expect == Expect.Pong ? 2 : 1;
        var frames = new List<JsonObject>();
        while (pongs > 0)
        {
            var frame = await socket.NextAsync();
            if (frame.Type() == "pong") pongs--;
            else frames.Add(frame);
        }
        while (c.IsSend && !frames.Any(f => f.Type() is "ack" or "error")
               || c.Expect == Expect.MessagesRead && !frames.Any(f => f.Type() is "messages_read" or "error"))
            frames.Add(await socket.NextAsync());
        return frames;
    }

    private static string Preview(FuzzCase c)
    {
        var text = c.Binary ? Convert.ToHexString(c.Payload.AsSpan(0, Math.Min(c.Payload.Length, 100))) : Encoding.UTF8.GetString(c.Payload);
        if (text.Length > 300) text = text[..300] + $"... ({c.Payload.Length} bytes)";
        return string.Concat(text.Select(ch => char.IsControl(ch) ? $"\\u{(int)ch:x4}" : ch.ToString()));
    }

    /// <summary>Generates one case at a time from a seeded <see cref="Random"/>, with the contract's expected answer.</summary>
    private sealed class FrameFuzzer(Random rng, string self, string receiver, string stranger, long conversationId)
    {
        private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
        private static readonly string[] KnownTypes = ["send_message", "mark_read", "typing", "sync", "ping"];
        private static readonly string[] TextPieces =
        [
            "hello", " ", "'; DROP TABLE messages; --", "<script>alert(1)</script>", "\" OR \"\"=\"", "😀", "👩‍👩‍👧", "漢字", "مرحبا",
            "e\u0301", "\\", "\\u0000", "\u0001", "\u007f", "\t", "\n", "%s%n", "{{7*7}}", "${jndi:ldap://x}", "\u202e", "\ufeff",
            "null", "[]", "{}", "\"}", "?", "&amp;", "\U0010FFFF",
        ];
        private static readonly string[] HugeNumbers =
        [
            "1e400", "-1e400", "1E+400", "99999999999999999999999", "-99999999999999999999999", "9223372036854775808",
            "-9223372036854775809", "1.5", "123456789012345678901234567890e10", "1e-400",
        ];
        private int _ids;

        public long ConversationId => conversationId;
        public long LastMessageId { get; set; }
        public List<(string ClientMsgId, string Text, long MessageId)> Acked { get; } = [];

        public FuzzCase Next() => rng.Next(100) switch
        {
            < 14 => ValidSend(),
            < 16 => RepeatSend(),
            < 22 => SendingError(),
            < 28 => RandomText(),
            < 32 => InvalidUtf8(),
            < 38 => Truncated(),
            < 42 => DeepNesting(),
            < 48 => HugeNumber(),
            < 62 => WrongType(),
            < 67 => UnknownType(),
            < 72 => LongString(),
            < 77 => ControlChars(),
            < 80 => BinaryFrame(),
            < 84 => Oversize(),
            < 88 => MarkRead(),
            < 91 => Typing(),
            < 96 => Sync(),
            _ => Ping(),
        };

        private T Pick<T>(IReadOnlyList<T> items) => items[rng.Next(items.Count)];

        private byte[] Bytes(JsonObject o, bool asciiOnly = false) =>
            Encoding.UTF8.GetBytes(asciiOnly || rng.Next(2) == 0 ? o.ToJsonString() : o.ToJsonString(Relaxed));

        /// <summary>Serializes <paramref name="o"/> with <paramref name="field"/> set to raw JSON text (numbers JSON nodes cannot hold).</summary>
        private static byte[] WithRaw(JsonObject o, string field, string raw)
        {
            o[field] = "__RAW__";
            return Encoding.UTF8.GetBytes(o.ToJsonString().Replace("\"__RAW__\"", raw, StringComparison.Ordinal));
        }

        private string NewClientId() => rng.Next(10) == 0 ? $"'; DROP TABLE messages;--<b>{++_ids}" : $"fz-{++_ids}-{rng.Next():x}";

        private string RandomCase(string s) => string.Concat(s.Select(ch => rng.Next(2) == 0 ? char.ToUpperInvariant(ch) : ch));

        private string ValidText()
        {
            var sb = new StringBuilder();
            for (var n = rng.Next(1, 8); n > 0; n--) sb.Append(Pick(TextPieces));
            var text = sb.ToString();
            return string.IsNullOrWhiteSpace(text) ? text + "x" : text;
        }

        private string RandomString(int length)
        {
            var sb = new StringBuilder();
            for (var i = 0; i < length; i++)
            {
                var roll = rng.Next(100);
                var cp = roll switch
                {
                    < 40 => rng.Next(0x20, 0x7f),
                    < 55 => rng.Next(0, 0x20),
                    < 65 => Pick("{}[]\":,\\".ToCharArray()),
                    < 85 => rng.Next(0xa0, 0xd800),
                    _ => rng.Next(0x10000, 0x110000),
                };
                sb.Append(char.ConvertFromUtf32(cp));
            }
            return sb.ToString();
        }

        private JsonObject ValidFrame(string type, out string? clientMsgId)
        {
            clientMsgId = null;
            var o = new JsonObject { ["type"] = type };
            switch (type)
            {
                case "send_message":
                    o["receiver"] = receiver;
                    o["message"] = ValidText();
                    o["client_msg_id"] = clientMsgId = NewClientId();
                    break;
                case "mark_read":
                    o["conversation_id"] = conversationId;
                    if (rng.Next(2) == 0) o["up_to_message_id"] = rng.NextInt64(0, LastMessageId + 10);
                    break;
                case "typing":
                    o["receiver"] = receiver;
                    break;
                case "sync":
                    o["after_message_id"] = Math.Max(0, LastMessageId - rng.Next(0, 5));
                    o["limit"] = rng.Next(1, 6);
                    break;
            }
            return o;
        }

        private FuzzCase Send(string category, string to, string text, string? id, Expect expect, params string[] codes)
        {
            var o = new JsonObject();
            var typeLast = rng.Next(4) == 0; // "type" may stand anywhere in the object
            if (!typeLast) o["type"] = "send_message";
            o["receiver"] = to;
            o["message"] = text;
            if (id is not null) o["client_msg_id"] = id;
            if (typeLast) o["type"] = "send_message";
            return new FuzzCase(category, Bytes(o), expect, codes, ClientMsgId: id, Text: text) { IsSend = true };
        }

        private FuzzCase ValidSend() =>
            Send("valid-send", RandomCase(receiver), ValidText(), rng.Next(8) == 0 ? null : NewClientId(), Expect.Ack);

        private FuzzCase RepeatSend()
        {
            if (Acked.Count == 0) return ValidSend();
            var (id, text, messageId) = Pick(Acked);
            return Send("repeat-send", receiver, text, id, Expect.Ack) with { RepeatOf = messageId };
        }

        private FuzzCase SendingError() => rng.Next(6) switch
        {
            0 => Send("send-error", RandomCase(self), ValidText(), NewClientId(), Expect.Error, "invalid_receiver"),
            1 => Send("send-error", $"nobody-{rng.Next()}", ValidText(), NewClientId(), Expect.Error, "unknown_user"),
            2 => Send("send-error", receiver, "", NewClientId(), Expect.Error, "empty_message"),
            3 => Send("send-error", receiver, string.Concat(Enumerable.Range(0, rng.Next(1, 50)).Select(_ => Pick([" ", "\t", "\n", "\r", "\u00a0", "\u2003", "\u3000", "\u2028"]))),
                NewClientId(), Expect.Error, "empty_message"),
            4 => Send("send-error", Pick(["../target", "target'--", "' OR 1=1 --", "tar get", "", "target\u0000", "%", "target%00", "*"]), ValidText(), NewClientId(), Expect.Error, "unknown_user"),
            _ => LoneSurrogate(),
        };

        private FuzzCase LoneSurrogate()
        {
            // Valid JSON and valid UTF-8, but the escape decodes to half a surrogate pair: not text.
            var id = NewClientId();
            var o = new JsonObject { ["type"] = "send_message", ["receiver"] = receiver, ["client_msg_id"] = id };
            return new FuzzCase("send-error", WithRaw(o, "message", "\"bad \\ud800 surrogate\""), Expect.Error, ["bad_frame"], ClientMsgId: id) { IsSend = true };
        }

        private FuzzCase RandomText()
        {
            var text = RandomString(rng.Next(0, 300));
            if (text.TrimStart().StartsWith('{')) text = "x" + text; // never a JSON object
            return new FuzzCase("random-text", Encoding.UTF8.GetBytes(text), Expect.Error, ["bad_json"]);
        }

        private FuzzCase InvalidUtf8()
        {
            byte[][] bad = [[0xff], [0xfe], [0xc0, 0x80], [0xc1, 0xbf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80, 0x80, 0x80], [0xe2, 0x28, 0xa1]];
            List<byte> bytes;
            if (rng.Next(2) == 0)
            {
                bytes = [.. Enumerable.Range(0, rng.Next(0, 300)).Select(_ => (byte)rng.Next(256))];
            }
            else
            {
                // A well-formed send whose message carries the bad bytes: must not be stored.
                bytes = [.. Encoding.UTF8.GetBytes($"{{\"type\":\"send_message\",\"receiver\":\"{receiver}\",\"message\":\"ab\",\"client_msg_id\":\"{NewClientId()}\"}}")];
            }
            var at = bytes.Count == 0 ? 0 : rng.Next(bytes.Count);
            if (bytes.Count > 0 && bytes[0] == (byte)'{') at = bytes.IndexOf((byte)'a') + 1;
            bytes.InsertRange(at, Pick(bad));
            return new FuzzCase("invalid-utf8", [.. bytes], Expect.Close, [], CloseCode: 1007);
        }

        private FuzzCase Truncated()
        {
            var full = Bytes(ValidFrame(Pick(KnownTypes), out _), asciiOnly: true);
            return new FuzzCase("truncated-json", full[..rng.Next(1, full.Length)], Expect.Error, ["bad_json"]);
        }

        private FuzzCase DeepNesting()
        {
            var depth = rng.Next(4) == 0 ? 10_000 : rng.Next(65, 10_000);
            switch (rng.Next(4))
            {
                case 0:
                    return new FuzzCase("deep-nesting", Encoding.ASCII.GetBytes(new string('[', depth) + new string(']', depth)), Expect.Error, ["bad_json"]);
                case 1:
                    return new FuzzCase("deep-nesting", Encoding.ASCII.GetBytes(rng.Next(2) == 0 ? new string('[', depth) : string.Concat(Enumerable.Repeat("{\"a\":", depth / 2))),
                        Expect.Error, ["bad_json"]);
                case 2:
                    // A deep object without a type: refused either for its depth or for the missing type.
                    depth /= 2;
                    return new FuzzCase("deep-nesting", Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth)),
                        Expect.Error, ["bad_json", "bad_frame"]);
                default:
                    return new FuzzCase("deep-nesting",
                        Encoding.ASCII.GetBytes("{\"type\":\"send_message\",\"receiver\":" + new string('[', depth) + new string(']', depth) + ",\"message\":\"deep\"}"),
                        Expect.Error, ["bad_json", "bad_frame"]) { IsSend = true };
            }
        }

        private FuzzCase HugeNumber()
        {
            var raw = Pick(HugeNumbers);
            var type = Pick(KnownTypes[..4]);
            var o = ValidFrame(type, out var id);
            var fields = o.Select(p => p.Key).Where(k => k != "type").Append("type").ToList();
            var field = Pick(fields);
            if (type == "sync" && field == "limit" && raw.All(char.IsAsciiDigit))
            {
                // An integer above the maximum is the maximum (the contract's limit rule), however many digits it has.
                return new FuzzCase("huge-number", WithRaw(o, field, raw), Expect.SyncComplete, []);
            }
            return new FuzzCase("huge-number", WithRaw(o, field, raw), Expect.Error, ["bad_frame"], ClientMsgId: field == "client_msg_id" ? null : id)
            { IsSend = type == "send_message" };
        }

        private FuzzCase WrongType()
        {
            var type = Pick(KnownTypes);
            var o = ValidFrame(type, out var id);
            var fields = o.Select(p => p.Key).Where(k => k != "type").ToList();
            var required = type switch
            {
                "send_message" => new[] { "receiver", "message" },
                "mark_read" => ["conversation_id"],
                "typing" => ["receiver"],
                "sync" => ["after_message_id"],
                _ => [],
            };
            if (fields.Count == 0 || rng.Next(6) == 0)
            {
                // The type itself: missing or not a string.
                if (rng.Next(3) == 0) o.Remove("type");
                else return new FuzzCase("wrong-type:type", WithRaw(o, "type", Pick(["1", "true", "null", "[]", "{}", "[\"ping\"]", "{\"type\":\"ping\"}", "1e400"])),
                    Expect.Error, ["bad_frame"], ClientMsgId: id) { IsSend = type == "send_message" };
                return new FuzzCase("wrong-type:type", Bytes(o), Expect.Error, ["bad_frame"], ClientMsgId: id);
            }
            var field = Pick(fields.Concat(required).ToList());
            var isString = field is "receiver" or "message" or "client_msg_id";
            var isRequired = required.Contains(field);
            if (isRequired && rng.Next(5) == 0)
            {
                o.Remove(field);
                return new FuzzCase($"missing:{type}.{field}", Bytes(o), Expect.Error, ["bad_frame"], ClientMsgId: id) { IsSend = type == "send_message" };
            }
            List<string> wrong = isString
                ? ["42", "-1", "0", "true", "false", "[]", "[\"target\"]", "{}", "{\"a\":\"b\"}", "1.5"]
                : ["\"5\"", "\"\"", "true", "false", "[]", "[1]", "{}", "{\"id\":1}", "1.5", "\"1e3\""];
            if (isRequired) wrong.Add("null");
            return new FuzzCase($"wrong-type:{type}.{field}", WithRaw(o, field, Pick(wrong)), Expect.Error, ["bad_frame"],
                ClientMsgId: field == "client_msg_id" ? null : id) { IsSend = type == "send_message" };
        }

        private FuzzCase UnknownType()
        {
            var type = rng.Next(3) switch
            {
                0 => Pick(["ack", "chat_message", "message_sent", "error", "connected", "pong", "presence", "sync_complete", "PING", "Ping",
                    "SEND_MESSAGE", " ping", "ping ", "ping\u0000", "typing\n", "mark-read", "sendMessage", "", "__proto__", "constructor"]),
                1 => RandomString(rng.Next(1, 40)),
                _ => new string('t', rng.Next(1000, 20_000)),
            };
            if (KnownTypes.Contains(type)) type += "!";
            var o = new JsonObject { ["type"] = type };
            string? id = null;
            if (rng.Next(2) == 0) o["client_msg_id"] = id = NewClientId();
            if (rng.Next(2) == 0) o["receiver"] = receiver;
            return new FuzzCase("unknown-type", Bytes(o), Expect.Error, ["unknown_type"], ClientMsgId: id);
        }

        private FuzzCase LongString() => rng.Next(6) switch
        {
            0 => Send("long-string", receiver, new string('a', MaxMessageLength + rng.Next(1, 1000)), NewClientId(), Expect.Error, "message_too_long"),
            1 => Send("long-string", receiver, string.Concat(Enumerable.Repeat("😀", MaxMessageLength)), NewClientId(), Expect.Ack),
            2 => Send("long-string", receiver, string.Concat(Enumerable.Repeat("😀", MaxMessageLength + 1)), NewClientId(), Expect.Error, "message_too_long"),
            3 => Send("long-string", new string('r', rng.Next(33, 20_000)), ValidText(), NewClientId(), Expect.Error, "unknown_user"),
            4 => Send("long-string", receiver, ValidText(), new string('c', rng.Next(65, 5000)), Expect.Error, "bad_frame"),
            _ => Send("long-string", receiver, new string('z', MaxMessageLength), NewClientId(), Expect.Ack),
        };

        private FuzzCase ControlChars()
        {
            switch (rng.Next(4))
            {
                case 0:
                {
                    // A raw control character inside a JSON string is not JSON.
                    var o = new JsonObject { ["type"] = "send_message", ["receiver"] = receiver, ["message"] = "__CTL__", ["client_msg_id"] = NewClientId() };
                    var raw = "a" + (char)rng.Next(0, 0x20) + "b";
                    return new FuzzCase("control-chars", Encoding.UTF8.GetBytes(o.ToJsonString().Replace("__CTL__", raw, StringComparison.Ordinal)), Expect.Error, ["bad_json"]);
                }
                case 1:
                {
                    // Escaped control characters are ordinary text: stored and returned as sent. U+0000 is the exception,
                    // refused on both stores (protocol.md, "no U+0000 in text").
                    var text = "ctl" + string.Concat(Enumerable.Range(0, rng.Next(1, 20)).Select(_ => (char)Pick([.. Enumerable.Range(1, 0x1f), 0x7f, 0x85, 0x9f])));
                    return rng.Next(4) == 0
                        ? Send("control-chars", receiver, text + "\u0000", NewClientId(), Expect.Error, "bad_frame")
                        : Send("control-chars", receiver, text, NewClientId(), Expect.Ack);
                }
                case 2:
                    return Send("control-chars", receiver, string.Concat(Enumerable.Range(0, rng.Next(1, 20)).Select(_ => Pick(["\t", "\n", "\r", "\u000b", "\u000c", " "]))),
                        NewClientId(), Expect.Error, "empty_message");
                default:
                    return rng.Next(2) == 0
                        ? Send("control-chars", "tar\u0001get", ValidText(), NewClientId(), Expect.Error, "unknown_user")
                        : new FuzzCase("control-chars", Bytes(new JsonObject { ["type"] = "ping\u0007" }), Expect.Error, ["unknown_type"]);
            }
        }

        private FuzzCase BinaryFrame()
        {
            var bytes = rng.Next(2) == 0
                ? Bytes(ValidFrame(Pick(KnownTypes), out _))
                : [.. Enumerable.Range(0, rng.Next(0, 500)).Select(_ => (byte)rng.Next(256))];
            return new FuzzCase("binary", bytes, Expect.Close, [], CloseCode: 1003, Binary: true);
        }

        private FuzzCase Oversize()
        {
            switch (rng.Next(4))
            {
                case 0:
                    // A send that would be valid but for its size: closed, and not stored.
                    return new FuzzCase("oversize", Bytes(new JsonObject
                    {
                        ["type"] = "send_message", ["receiver"] = receiver, ["message"] = new string('o', MaxFrameBytes + rng.Next(0, 10_000)), ["client_msg_id"] = NewClientId(),
                    }), Expect.Close, [], CloseCode: 1009);
                case 1:
                    return new FuzzCase("oversize", Encoding.ASCII.GetBytes(new string('x', MaxFrameBytes + rng.Next(1, 20_000))), Expect.Close, [], CloseCode: 1009);
                case 2:
                    return new FuzzCase("oversize", Encoding.ASCII.GetBytes(new string('[', 20_000) + new string(']', 20_000)), Expect.Close, [], CloseCode: 1009);
                default:
                {
                    // The boundary: a ping of exactly MaxFrameBytes is served, one byte more closes.
                    var over = rng.Next(2);
                    var prefix = "{\"type\":\"ping\",\"pad\":\"";
                    var text = prefix + new string('p', MaxFrameBytes + over - prefix.Length - 2) + "\"}";
                    return over == 0
                        ? new FuzzCase("frame-size-boundary", Encoding.ASCII.GetBytes(text), Expect.Pong, [])
                        : new FuzzCase("oversize", Encoding.ASCII.GetBytes(text), Expect.Close, [], CloseCode: 1009);
                }
            }
        }

        private FuzzCase MarkRead()
        {
            if (rng.Next(2) == 0) return new FuzzCase("mark-read", Bytes(ValidFrame("mark_read", out _)), Expect.MessagesRead, []);
            // Not the caller's conversation: missing, or the bystanders' (created before the fuzzer's, so a smaller id).
            var other = Pick([0, -1, conversationId - 1, conversationId + 1 + rng.Next(1_000_000), long.MaxValue]);
            return new FuzzCase("mark-read", Bytes(new JsonObject { ["type"] = "mark_read", ["conversation_id"] = other }), Expect.Error, ["not_found"]);
        }

        private FuzzCase Typing() => rng.Next(3) switch
        {
            0 => new FuzzCase("typing", Bytes(new JsonObject { ["type"] = "typing", ["receiver"] = RandomCase(receiver) }), Expect.Silent, []),
            1 => new FuzzCase("typing", Bytes(new JsonObject { ["type"] = "typing", ["receiver"] = stranger }), Expect.Error, ["not_found"]),
            _ => new FuzzCase("typing", Bytes(new JsonObject { ["type"] = "typing", ["receiver"] = $"ghost-{rng.Next()}" }), Expect.Error, ["not_found"]),
        };

        private FuzzCase Sync() => rng.Next(3) switch
        {
            0 => new FuzzCase("sync", Bytes(new JsonObject { ["type"] = "sync", ["after_message_id"] = LastMessageId, ["limit"] = rng.Next(-5, 1) }), Expect.Error, ["bad_frame"]),
            _ => new FuzzCase("sync", Bytes(ValidFrame("sync", out _)), Expect.SyncComplete, []),
        };

        private FuzzCase Ping()
        {
            var o = new JsonObject { ["type"] = "ping" };
            if (rng.Next(2) == 0) o["extra"] = new JsonArray(1, "two", new JsonObject { ["three"] = null });
            return new FuzzCase("ping", Bytes(o), Expect.Pong, []);
        }
    }
}
