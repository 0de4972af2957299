using System.Threading.Channels;

namespace Chat.Server.Storage;

/// <summary>
/// The store's write side: it commits writes in batches and hands on what it committed, in commit order, once it is
/// durable. It neither publishes nor answers successful writes (the publisher does both); it answers only the writes
/// it refuses.
/// </summary>
public interface IMessageWriter
{
    /// <summary>
    /// Queues a write, waiting while the store's queue is full (backpressure). Throws a 503 <c>internal</c>
    /// <see cref="Infrastructure.ChatException"/> once the store stopped taking writes (shutdown): nothing is stored then.
    /// </summary>
    ValueTask EnqueueAsync(WriteRequest request, CancellationToken ct);

    /// <summary>
    /// Every committed batch, in commit order, once durable; completes after the store stopped and drained. One reader
    /// (the publisher).
    /// </summary>
    ChannelReader<CommittedBatch> Committed { get; }
}

/// <summary>
/// Writes committed together (one transaction), in commit order. <paramref name="DurableUpTo"/> is a message id at or
/// below which every message is committed and durable: the stream position may move to it. <paramref name="PositionBefore"/>
/// and <paramref name="PositionAfter"/> are the stream position just before and just after this transaction: with
/// several writers (PostgreSQL nodes) every transaction moves the position from one to the other, so the batches of all
/// nodes form one chain, and a batch whose <c>PositionBefore</c> is past what a node has seen shows a gap
/// (<see cref="Realtime.Cluster.StreamSequencer"/>). With one writer (SQLite), <c>PositionBefore</c> counts from what this
/// process committed (0 at start).
/// </summary>
public sealed record CommittedBatch(IReadOnlyList<WriteRequest> Requests, long DurableUpTo, long PositionBefore, long PositionAfter);
