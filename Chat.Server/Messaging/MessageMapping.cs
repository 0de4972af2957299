using Chat.Protocol.Http;
using Chat.Server.Storage;
using Chat.Server.Users;

namespace Chat.Server.Messaging;

internal static class MessageMapping
{
    public static MessageDto ToDto(this HistoryMessage m) =>
        new(m.Id, m.ConversationId, m.Sender, m.Receiver, m.Body, m.CreatedAt, m.IsRead);

    public static ConversationDto ToDto(this ConversationSummary c) =>
        new(c.ConversationId, c.OtherUser.ToDto(), c.LastMessage?.ToDto(), c.UnreadCount, c.CreatedAt);
}
