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
/// Writes committed together, in commit order. <paramref name="DurableUpTo"/> is a message id at or below which every
/// message is committed and durable: the stream position may move to it.
/// </summary>
public sealed record CommittedBatch(IReadOnlyList<WriteRequest> Requests, long DurableUpTo);
