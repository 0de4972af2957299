using Chat.Protocol;
using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>
/// The frames of one committed transaction, in the order they leave: to users (every socket of the user, on every node)
/// or, for an <c>ack</c>, to the one socket that sent (on this node only). <see cref="PositionBefore"/> and
/// <see cref="PositionAfter"/> are the stream position around the transaction (<see cref="CommittedBatch"/>), which is
/// what orders batches from several nodes (<see cref="Cluster.StreamSequencer"/>).
/// </summary>
public sealed class StreamBatch(long positionBefore, long positionAfter)
{
    public long PositionBefore { get; } = positionBefore;
    public long PositionAfter { get; } = positionAfter;

    /// <summary>The frames in order.</summary>
    public List<StreamFrame> Frames { get; } = [];

    public void ToUser(long userId, OutboundFrame frame) => Frames.Add(new StreamFrame(userId, null, frame));

    public void Reply(ChatConnection socket, OutboundFrame frame) => Frames.Add(new StreamFrame(0, socket, frame));

    /// <summary>
    /// A stored message's frames (contract section 4): <c>chat_message</c> to the receiver, <c>conversation_refresh</c>
    /// after it when the conversation is new, <c>message_sent</c> to the sender. Live delivery and the gap fill share this.
    /// </summary>
    public void AddMessage(StoredMessage message)
    {
        ToUser(message.Receiver.Id, Realtime.Frames.Message(message, FrameTypes.ChatMessage));
        if (message.IsNewConversation)
            ToUser(message.Receiver.Id, Realtime.Frames.ConversationRefresh(message));
        ToUser(message.Sender.Id, Realtime.Frames.Message(message, FrameTypes.MessageSent));
    }

    /// <summary>
    /// Queues the batch on this node's sockets. A stored-message frame with an id at or below <paramref name="skipUpTo"/>
    /// was already delivered (by a gap fill) and is left out; replies and other frames always go.
    /// </summary>
    public void DeliverLocally(ConnectionRegistry registry, long skipUpTo = 0)
    {
        foreach (var f in Frames)
        {
            if (f.ReplyTo is { } socket) socket.Send(f.Frame);
            else if (f.Frame.StoredMessageId == 0 || f.Frame.StoredMessageId > skipUpTo) registry.SendToUser(f.UserId, f.Frame);
        }
    }
}

/// <summary>One frame of a <see cref="StreamBatch"/>: to every socket of <paramref name="UserId"/>, or only to <paramref name="ReplyTo"/>.</summary>
public readonly record struct StreamFrame(long UserId, ChatConnection? ReplyTo, OutboundFrame Frame);
