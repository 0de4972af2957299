using Chat.Server.Infrastructure;
using Chat.Server.Storage;

namespace Chat.Server.Messaging;

/// <summary>Marks a conversation read for the HTTP call and the <c>mark_read</c> frame alike.</summary>
public sealed class ReadHandler(IUserStore users, IMessageWriter writer)
{
    public async Task<ReadResult> MarkReadAsync(long userId, long conversationId, long? upToMessageId, CancellationToken ct)
    {
        if (upToMessageId < 0) throw ChatException.BadRequest("up_to_message_id must not be negative.");
        var reader = await users.FindByIdAsync(userId, ct) ?? throw ChatException.NotFound();
        return await writer.MarkReadAsync(new ReadCommand(reader, conversationId, upToMessageId), ct);
    }
}
