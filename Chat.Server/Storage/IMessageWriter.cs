namespace Chat.Server.Storage;

/// <summary>
/// The write side of messaging. Every send and read-cursor move is committed in order by one writer,
/// and its notifications leave in that same order, which is what orders frames per conversation.
/// </summary>
public interface IMessageWriter
{
    /// <summary>Commits a message (or finds the original for a repeated <c>client_msg_id</c>).</summary>
    Task<SendResult> SendAsync(SendCommand command, CancellationToken ct);

    /// <summary>Moves the caller's read cursor forward; throws <c>not_found</c> when not a member.</summary>
    Task<ReadResult> MarkReadAsync(ReadCommand command, CancellationToken ct);
}

/// <param name="OnCommitted">Runs on the writer right after the message's notifications were queued (used for the WebSocket ack, so it follows <c>message_sent</c>).</param>
public sealed record SendCommand(UserRow Sender, UserRow Receiver, string Body, string? ClientMsgId, Action<SendResult>? OnCommitted = null);

/// <param name="Duplicate">True when <c>client_msg_id</c> matched an earlier send: nothing new was stored or notified.</param>
public sealed record SendResult(StoredMessage Message, bool Duplicate);

public sealed record ReadCommand(UserRow Reader, long ConversationId, long? UpToMessageId);

public sealed record ReadResult(long ConversationId, UserRow Reader, long OtherUserId, long UpToMessageId, long UnreadCount);

/// <summary>Told of each commit, in commit order, on the writer; must only queue work, never block.</summary>
public interface ICommitListener
{
    void MessageStored(StoredMessage message);
    void ReadMoved(ReadResult read);
}
