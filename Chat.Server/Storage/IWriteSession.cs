using Chat.Server.Messaging;

namespace Chat.Server.Storage;

/// <summary>
/// The SQL of one write, run by <see cref="GroupCommitWriter"/> inside the batch's open transaction. Throws a
/// <see cref="Infrastructure.ChatException"/> to refuse the write (e.g. not a member), which rolls back the batch so it
/// is redone without it.
/// </summary>
public interface IWriteSession : IDisposable
{
    /// <summary>
    /// Inserts a message. Without <see cref="SendCommand.ConversationId"/> the pair's conversation is created with it,
    /// unless a write committed before this one created it: then the message joins that one and is not new. A repeated
    /// <c>client_msg_id</c> returns the original (<paramref name="duplicate"/>).
    /// </summary>
    /// <param name="now">Unix seconds, the message's timestamp.</param>
    StoredMessage Send(SendCommand command, long now, out bool duplicate);

    /// <summary>Moves a read cursor (never backwards, never past the newest message); null when the reader is not a member.</summary>
    ReadResult? MarkRead(ReadCommand command);

    /// <summary>
    /// Runs every write of a batch, in order, inside the open transaction (<see cref="WriteRequest.Execute"/> one by
    /// one, unless the engine can send several in one round trip). Throws as <see cref="Send"/> does.
    /// </summary>
    void ExecuteAll(IReadOnlyList<WriteRequest> batch, long now);

    /// <summary>
    /// Opens the batch's transaction. Returns the stream position (a message id) every earlier transaction of every
    /// writer committed up to, where the engine reads it under its write lock (PostgreSQL); null where this process is
    /// the only writer (SQLite).
    /// </summary>
    long? Begin();

    /// <summary>Commits the batch; <paramref name="newestMessageId"/> is the largest id it inserted (0 for none).</summary>
    void Commit(long newestMessageId);

    void Rollback();
}
