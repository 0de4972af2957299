using Chat.Protocol;
using Chat.Protocol.Frames;
using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>Builds the serialized frames for a stored message; live delivery and sync replay share these so they are identical.</summary>
public static class Frames
{
    public static OutboundFrame Message(StoredMessage m, string type) => OutboundFrame.Of(
        new MessageFrame(type, m.Body, m.Sender.Username, m.Receiver.Username, m.Id, m.CreatedAt, m.ConversationId,
            m.IsNewConversation, m.Sender.DisplayName, m.Sender.Email, m.Receiver.DisplayName, m.Receiver.Email),
        ChatJson.Wire.MessageFrame, storedMessageId: m.Id);

    public static OutboundFrame ConversationRefresh(StoredMessage m) => OutboundFrame.Of(
        new ConversationRefreshFrame(m.ConversationId, m.Sender.Username, m.Sender.DisplayName, m.Sender.Email, m.CreatedAt),
        ChatJson.Wire.ConversationRefreshFrame, storedMessageId: m.Id);

    public static OutboundFrame Ack(string? clientMsgId, StoredMessage m) => OutboundFrame.Of(
        new AckFrame(clientMsgId, m.Id, m.ConversationId, m.CreatedAt, m.IsNewConversation),
        ChatJson.Wire.AckFrame);

    public static OutboundFrame Error(string code, string message, string? clientMsgId) => OutboundFrame.Of(
        new ErrorFrame(code, message, clientMsgId), ChatJson.Wire.ErrorFrame);

    public static OutboundFrame Presence(string username, bool online) => OutboundFrame.Of(
        new PresenceFrame(username, online), ChatJson.Wire.PresenceFrame, ephemeral: true);

    public static readonly OutboundFrame Pong = OutboundFrame.Of(PongFrame.Instance, ChatJson.Wire.PongFrame);
}
