using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;

namespace Chat.Tests.Cluster;

/// <summary>
/// Reading what a socket has received so far (<see cref="ChatSocket.History"/>) without taking frames from it, and
/// waiting for a condition on it: the cluster tests judge whole streams after the fact (order, gaps, duplicates).
/// </summary>
public static class FrameLog
{
    /// <summary>The stored-message frame types (contract section 5: what a backplane outage must not lose).</summary>
    public static readonly string[] StoredMessageTypes = ["chat_message", "message_sent", "conversation_refresh"];

    /// <summary>Every frame received so far, in arrival order.</summary>
    public static List<JsonObject> Frames(this ChatSocket socket)
    {
        lock (socket.History) return [.. socket.History];
    }

    /// <summary>The <c>message_id</c> of every <c>chat_message</c> and <c>message_sent</c> frame of a conversation, in arrival order.</summary>
    public static List<long> MessageIds(this ChatSocket socket, long conversationId) =>
        socket.Frames().Where(f => f.Type() is "chat_message" or "message_sent" && f.Long("conversation_id") == conversationId)
            .Select(f => f.Long("message_id")).ToList();

    /// <summary>The frames of <paramref name="type"/> received so far.</summary>
    public static List<JsonObject> OfType(this ChatSocket socket, string type) => socket.Frames().Where(f => f.Type() == type).ToList();

    /// <summary>
    /// Waits until the socket has received a frame of <paramref name="type"/> (matching <paramref name="match"/>), looking
    /// at everything it received, also frames another wait already took; returns the first such frame.
    /// </summary>
    public static async Task<JsonObject> ReceivedAsync(this ChatSocket socket, string type, Func<JsonObject, bool>? match = null, TimeSpan? timeout = null)
    {
        JsonObject? found = null;
        await WaitUntilAsync(() => (found = socket.Frames().FirstOrDefault(f => f.Type() == type && (match is null || match(f)))) is not null,
            timeout ?? ChatSocket.DefaultTimeout, () => $"no '{type}' frame; received: {string.Join(" ", socket.Frames().Select(f => f.Type()))}");
        return found!;
    }

    /// <summary>Polls <paramref name="condition"/> until it holds; at the deadline fails with <paramref name="describe"/>'s text.</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> describe)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Not within {timeout.TotalSeconds}s: {describe()}");
            await Task.Delay(25);
        }
    }

    /// <summary>
    /// Waits until the socket has seen exactly <paramref name="expected"/> (ascending) for the conversation, then asserts
    /// it saw them once each and in ascending order: a duplicate, a gap or a frame out of order fails with the ids.
    /// </summary>
    public static async Task AssertSeesExactlyInOrderAsync(this ChatSocket socket, string name, long conversationId, IReadOnlyCollection<long> expected, TimeSpan timeout)
    {
        var want = expected.Order().ToList();
        var deadline = DateTime.UtcNow + timeout;
        while (socket.MessageIds(conversationId).Distinct().Count() < want.Count && DateTime.UtcNow < deadline)
            await Task.Delay(25);
        var seen = socket.MessageIds(conversationId);
        var missing = want.Except(seen).ToList();
        var extra = seen.Except(want).ToList();
        var duplicates = seen.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        var backwards = seen.Zip(seen.Skip(1)).Where(p => p.Second <= p.First).Select(p => $"{p.Second} after {p.First}").ToList();
        Assert.Multiple(() =>
        {
            Assert.That(missing, Is.Empty, $"{name}: ids never received (of {want.Count}, within {timeout.TotalSeconds}s)");
            Assert.That(extra, Is.Empty, $"{name}: ids received that were not expected");
            Assert.That(duplicates, Is.Empty, $"{name}: ids received more than once");
            Assert.That(backwards, Is.Empty, $"{name}: frames out of ascending message_id order");
        });
    }

    /// <summary>
    /// Takes frames until the answer to the send with <paramref name="clientMsgId"/> (its <c>ack</c> or <c>error</c>);
    /// null when none came within <paramref name="timeout"/>.
    /// </summary>
    public static async Task<JsonObject?> AnswerToAsync(this ChatSocket socket, string clientMsgId, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var frame = await socket.TryNextAsync(deadline - DateTime.UtcNow);
            if (frame is null) return null;
            if (frame.Type() is "ack" or "error" && frame["client_msg_id"]?.GetValue<string>() == clientMsgId) return frame;
        }
        return null;
    }

    /// <summary>Sends <c>sync</c> and collects the replayed frames through every page (<c>has_more</c>), sync_complete frames excluded.</summary>
    public static async Task<List<JsonObject>> SyncAllAsync(this ChatSocket socket, long afterMessageId = 0, int limit = 1000)
    {
        var frames = new List<JsonObject>();
        var after = afterMessageId;
        while (true)
        {
            await socket.SendAsync(new JsonObject { ["type"] = "sync", ["after_message_id"] = after, ["limit"] = limit });
            while (true)
            {
                var frame = await socket.NextAsync(TimeSpan.FromSeconds(30));
                if (frame.Type() == "sync_complete")
                {
                    FrameAssert.HasExactKeys(frame, FrameAssert.SyncCompleteKeys);
                    after = frame.Long("last_message_id");
                    if (!frame.Bool("has_more")) return frames;
                    break;
                }
                if (StoredMessageTypes.Contains(frame.Type())) frames.Add(frame);
            }
        }
    }
}
