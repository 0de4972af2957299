using Chat.Server.Infrastructure;
using Chat.Server.Storage;

namespace Chat.Server.Messaging;

/// <summary>Marks a conversation read for the HTTP call and the <c>mark_read</c> frame alike.</summary>
public sealed class ReadHandler(IUserStore users, IMessageWriter writer)
{
    /// <summary>
    /// Moves the caller's read cursor to <paramref name="upToMessageId"/> (null: the newest message), never backwards and
    /// never past the newest message; answers once it is durable and <c>messages_read</c> is queued. Throws
    /// <see cref="ChatException"/> 400 for a negative id and 404 <c>not_found</c> when the caller is not a member.
    /// </summary>
    public async Task<ReadResult> MarkReadAsync(long userId, long conversationId, long? upToMessageId, CancellationToken ct)
    {
        if (upToMessageId < 0) throw ChatException.BadRequest("up_to_message_id must not be negative.");
        var reader = await users.FindByIdAsync(userId, ct) ?? throw ChatException.NotFound();
        var request = new ReadRequest(new ReadCommand(reader, conversationId, upToMessageId));
        await writer.EnqueueAsync(request, ct);
        return await request.Completion;
    }
}
