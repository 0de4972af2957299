namespace Chat.Server.Storage;

/// <summary>
/// The stream position: the highest message id at or below which every message is committed <b>and durable</b>
/// (fsynced, with the default <c>Chat:Synchronous=FULL</c>). It is the only source of what clients may see: live
/// frames are published after it passes their id, and every read (<c>connected.last_message_id</c>, <c>sync</c>,
/// history, the conversation list and its unread counts) is bounded by it. So an id a client has seen survives a power
/// loss, and is never given to another message (contract, "Delivery guarantees").
/// </summary>
/// <remarks>
/// With one writer, ids are assigned in commit order, so the position is simply the newest id covered by the last
/// successful fsync. With several writers (ids from a shared sequence committing out of order) it becomes the
/// "persisted up to" position of Synapse's multi-writer stream id generator
/// (<c>synapse/storage/util/id_generators.py</c>, <c>get_persisted_upto_position</c>): the highest id below which no
/// writer still has an id in flight. Only <see cref="Advance"/>'s caller changes then; readers keep reading
/// <see cref="Current"/>.
/// </remarks>
public sealed class StreamPosition
{
    private long _current;

    /// <summary>The position now: a message id (0 before the first message).</summary>
    public long Current => Volatile.Read(ref _current);

    /// <summary>Moves the position forward to <paramref name="durableUpTo"/>; never backwards.</summary>
    public void Advance(long durableUpTo)
    {
        var seen = Volatile.Read(ref _current);
        while (durableUpTo > seen)
        {
            var previous = Interlocked.CompareExchange(ref _current, durableUpTo, seen);
            if (previous == seen) return;
            seen = previous;
        }
    }
}
