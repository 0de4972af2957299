using System.Text;
using Chat.Server.Realtime;

namespace Chat.Tests.Realtime;

/// <summary>The per-socket outbound queue: counted in frames and bytes, never blocking a producer, drained in order by one reader.</summary>
public sealed class FrameQueueTests
{
    private static OutboundFrame Frame(string text) => new(Encoding.UTF8.GetBytes(text), Ephemeral: false);

    [Test]
    public void TheQueueCountsFramesAndBytesAndReportsThemToTheServerWideBudget()
    {
        var budget = new OutboundBudget(Microsoft.Extensions.Options.Options.Create(new Chat.Server.ChatOptions()));
        var queue = new FrameQueue(budget);
        var other = new FrameQueue(budget);
        Assert.That(queue.TryWrite(Frame("12345")), Is.True);
        Assert.That(queue.TryWrite(Frame("123")), Is.True);
        Assert.That(other.TryWrite(Frame("1234567")), Is.True);
        Assert.That((queue.Count, queue.Bytes, budget.TotalBytes), Is.EqualTo((2, 8L, 15L)));

        Assert.That(queue.TryRead(out var first), Is.True);
        Assert.That(Encoding.UTF8.GetString(first.Payload), Is.EqualTo("12345"));
        Assert.That((queue.Count, queue.Bytes, budget.TotalBytes), Is.EqualTo((1, 3L, 10L)), "a frame taken by the socket leaves the count");

        other.Clear();
        Assert.That((other.Count, other.Bytes, budget.TotalBytes), Is.EqualTo((0, 0L, 3L)), "dropped frames give their bytes back");
    }

    [Test]
    public void WhileHeldOnlyRepliesReachTheReaderAndOnReleaseTheHeldFollowLessWhatTheReplayCovered()
    {
        var queue = new FrameQueue();
        queue.TryWrite(new OutboundFrame("live 5"u8.ToArray(), StoredMessageId: 5));   // queued before the sync
        queue.Hold();
        Assert.That((queue.Count, queue.HeldCount), Is.EqualTo((0, 1)), "what the reader had not taken waits too");
        queue.TryWrite(new OutboundFrame("live 7"u8.ToArray(), StoredMessageId: 7));
        queue.TryWrite(Frame("presence"));
        queue.TryWrite(new OutboundFrame("live 9"u8.ToArray(), StoredMessageId: 9));
        queue.TryWriteReply(new OutboundFrame("replay 5"u8.ToArray(), StoredMessageId: 5));
        queue.TryWriteReply(new OutboundFrame("replay 7"u8.ToArray(), StoredMessageId: 7));
        queue.TryWriteReply(Frame("sync_complete"));
        queue.Release(coveredUpTo: 7);

        var read = new List<string>();
        while (queue.TryRead(out var frame)) read.Add(Encoding.UTF8.GetString(frame.Payload));
        Assert.That(read, Is.EqualTo(new[] { "replay 5", "replay 7", "sync_complete", "presence", "live 9" }));
        Assert.That(queue.HeldCount, Is.Zero);
    }

    [Test]
    public void ALiveFrameTheReplayCoveredButPublishedAfterTheReleaseIsDroppedToo()
    {
        // On PostgreSQL a commit is visible to the replay's read before the publisher sends its live frame.
        var queue = new FrameQueue();
        queue.Hold();
        queue.TryWriteReply(new OutboundFrame("replay 8"u8.ToArray(), StoredMessageId: 8));
        queue.Release(coveredUpTo: 8);
        queue.TryWrite(new OutboundFrame("live 8"u8.ToArray(), StoredMessageId: 8));
        queue.TryWrite(Frame("ack"));
        queue.TryWrite(new OutboundFrame("live 9"u8.ToArray(), StoredMessageId: 9));

        var read = new List<string>();
        while (queue.TryRead(out var frame)) read.Add(Encoding.UTF8.GetString(frame.Payload));
        Assert.That(read, Is.EqualTo(new[] { "replay 8", "ack", "live 9" }));
    }

    [Test]
    public async Task AWaitingReaderIsWokenByAWriteAndReadsInOrder()
    {
        var queue = new FrameQueue();
        var waiting = queue.WaitToReadAsync().AsTask();
        await Task.Delay(50);
        Assert.That(waiting.IsCompleted, Is.False, "nothing to read yet");
        queue.TryWrite(Frame("a"));
        queue.TryWrite(Frame("b"));
        Assert.That(await waiting.WaitAsync(TimeSpan.FromSeconds(5)), Is.True);
        var read = new List<string>();
        while (queue.TryRead(out var frame)) read.Add(Encoding.UTF8.GetString(frame.Payload));
        Assert.That(read, Is.EqualTo(new[] { "a", "b" }));
    }

    [Test]
    public async Task CompletionLetsTheReaderDrainWhatIsQueuedThenEnds()
    {
        var queue = new FrameQueue();
        queue.TryWrite(Frame("last"));
        queue.Complete();
        Assert.That(queue.TryWrite(Frame("too late")), Is.False);
        Assert.That(await queue.WaitToReadAsync(), Is.True);
        Assert.That(queue.TryRead(out _), Is.True);
        Assert.That(await queue.WaitToReadAsync(), Is.False);
    }

    [Test]
    public async Task CompletionWakesAWaitingReaderWithFalse()
    {
        var queue = new FrameQueue();
        var waiting = queue.WaitToReadAsync().AsTask();
        queue.Complete();
        Assert.That(await waiting.WaitAsync(TimeSpan.FromSeconds(5)), Is.False);
    }

    [Test]
    public async Task ManyProducersLoseNothingAndEachKeepsItsOrder()
    {
        var queue = new FrameQueue();
        var producers = Enumerable.Range(0, 4).Select(p => Task.Run(() =>
        {
            for (var i = 0; i < 5_000; i++) Assert.That(queue.TryWrite(Frame($"{p}:{i}")), Is.True);
        })).ToArray();
        var seen = new Dictionary<int, int> { [0] = -1, [1] = -1, [2] = -1, [3] = -1 };
        var total = 0;
        var reader = Task.Run(async () =>
        {
            while (total < 20_000 && await queue.WaitToReadAsync())
            {
                while (queue.TryRead(out var frame))
                {
                    var parts = Encoding.UTF8.GetString(frame.Payload).Split(':');
                    var (p, i) = (int.Parse(parts[0]), int.Parse(parts[1]));
                    Assert.That(i, Is.EqualTo(seen[p] + 1), $"producer {p} out of order");
                    seen[p] = i;
                    total++;
                }
            }
        });
        await Task.WhenAll(producers);
        await reader.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.That(total, Is.EqualTo(20_000));
    }
}
