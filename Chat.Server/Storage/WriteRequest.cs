using Chat.Server.Messaging;

namespace Chat.Server.Storage;

/// <summary>
/// One write on its way through the write path: a handler queues it (<see cref="IMessageWriter.EnqueueAsync"/>), the
/// store commits it and passes it on in commit order (<see cref="IMessageWriter.Committed"/>), and the publisher
/// answers it once its frames are out. A write the store refuses is answered by the store with the error; nothing
/// refused is published.
/// </summary>
public abstract class WriteRequest
{
    private protected WriteRequest() { }

    /// <summary>The message id this write committed, or found for a repeated <c>client_msg_id</c>; 0 for none.</summary>
    public abstract long MessageId { get; }

    /// <summary>Answers the write's waiter with what was committed (publisher only, after its frames are queued).</summary>
    public abstract void Complete();

    /// <summary>Refuses the write: its waiter sees <paramref name="error"/> (a <see cref="Infrastructure.ChatException"/> for clients).</summary>
    public abstract void Fail(Exception error);

    /// <summary>Runs the write's SQL in the store's open transaction (store only).</summary>
    internal abstract void Execute(IWriteSession session, long now);
}

/// <summary>A message to store; <see cref="Completion"/> ends once it is durable and published.</summary>
public sealed class SendRequest(SendCommand command) : WriteRequest
{
    private readonly TaskCompletionSource<SendResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public SendCommand Command => command;

    /// <summary>What the store committed (or found); null until then.</summary>
    public SendResult? Result { get; private set; }

    public Task<SendResult> Completion => _done.Task;

    public override long MessageId => Result?.Message.Id ?? 0;

    public override void Complete() => _done.TrySetResult(Result ?? throw new InvalidOperationException("Not committed."));

    public override void Fail(Exception error) => _done.TrySetException(error);

    internal override void Execute(IWriteSession session, long now)
    {
        var message = session.Send(command, now, out var duplicate);
        Result = new SendResult(message, duplicate);
    }

    /// <summary>Records what a session that runs several sends at once committed for this one (store only).</summary>
    internal void Stored(StoredMessage message, bool duplicate) => Result = new SendResult(message, duplicate);
}

/// <summary>A read-cursor move; <see cref="Completion"/> ends once it is durable and published.</summary>
public sealed class ReadRequest(ReadCommand command) : WriteRequest
{
    private readonly TaskCompletionSource<ReadResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the store committed; null until then.</summary>
    public ReadResult? Result { get; private set; }

    public Task<ReadResult> Completion => _done.Task;

    public override long MessageId => 0;

    public override void Complete() => _done.TrySetResult(Result ?? throw new InvalidOperationException("Not committed."));

    public override void Fail(Exception error) => _done.TrySetException(error);

    internal override void Execute(IWriteSession session, long now) =>
        Result = session.MarkRead(command) ?? throw Infrastructure.ChatException.NotFound("No such conversation.");
}
