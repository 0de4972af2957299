using System.Text;
using Chat.Server.Realtime;

namespace Chat.Tests.Realtime;

/// <summary>The per-socket outbound queue: bounded, never blocking a producer, drained in order by one reader.</summary>
public sealed class FrameQueueTests
{
    private static OutboundFrame Frame(string text) => new(Encoding.UTF8.GetBytes(text), Ephemeral: false);

    [Test]
    public void AFullQueueRefusesTheNextFrameWithoutQueueingIt()
    {
        var queue = new FrameQueue(2);
        Assert.That(queue.TryWrite(Frame("1")), Is.True);
        Assert.That(queue.TryWrite(Frame("2")), Is.True);
        Assert.That(queue.TryWrite(Frame("3")), Is.False);
        Assert.That(queue.Count, Is.EqualTo(2));
        Assert.That(queue.TryRead(out var first), Is.True);
        Assert.That(Encoding.UTF8.GetString(first.Payload), Is.EqualTo("1"));
        Assert.That(queue.TryWrite(Frame("3")), Is.True, "room again after a read");
    }

    [Test]
    public async Task AWaitingReaderIsWokenByAWriteAndReadsInOrder()
    {
        var queue = new FrameQueue(16);
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
        var queue = new FrameQueue(16);
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
        var queue = new FrameQueue(16);
        var waiting = queue.WaitToReadAsync().AsTask();
        queue.Complete();
        Assert.That(await waiting.WaitAsync(TimeSpan.FromSeconds(5)), Is.False);
    }

    [Test]
    public async Task ManyProducersLoseNothingAndEachKeepsItsOrder()
    {
        var queue = new FrameQueue(100_000);
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
