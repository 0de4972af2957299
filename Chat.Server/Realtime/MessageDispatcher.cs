using Chat.Protocol;
using Chat.Protocol.Frames;
using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>
/// Turns commits into frames. Runs on the writer in commit order, so every socket receives the frames
/// of a conversation in ascending <c>message_id</c> order. Each frame is serialized once per recipient user.
/// </summary>
public sealed class MessageDispatcher(IDelivery delivery) : ICommitListener
{
    public void MessageStored(StoredMessage message)
    {
        delivery.SendToUser(message.Receiver.Id, Frames.Message(message, FrameTypes.ChatMessage));
        if (message.IsNewConversation)
            delivery.SendToUser(message.Receiver.Id, Frames.ConversationRefresh(message));
        delivery.SendToUser(message.Sender.Id, Frames.Message(message, FrameTypes.MessageSent));
    }

    public void ReadMoved(ReadResult read)
    {
        var frame = OutboundFrame.Of(new MessagesReadFrame(read.ConversationId, read.Reader.Username, read.UpToMessageId),
            ChatJson.Wire.MessagesReadFrame);
        delivery.SendToUser(read.Reader.Id, frame);
        delivery.SendToUser(read.OtherUserId, frame);
    }
}
