using Chat.Protocol;
using Chat.Protocol.Frames;
using Chat.Server.Observability;
using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>
/// The publisher: the one loop that turns what the store committed into frames. It owns the <see cref="StreamPosition"/>
/// (moved to each batch's durable id before its frames leave, so a frame never shows what a read could not), the fan-out
/// (<c>chat_message</c>, <c>conversation_refresh</c>, <c>message_sent</c>, <c>messages_read</c> to every socket of each
/// participant through <see cref="IDelivery"/>) and the acknowledgements (the <c>ack</c> frame to the socket that sent,
/// then the sender's answer). Batches arrive in commit order and are published in it, so every socket gets each
/// conversation's frames in ascending <c>message_id</c> order (contract, "Delivery guarantees").
/// </summary>
/// <remarks>
/// Runs from start until the store has drained at shutdown (<see cref="StoppedAsync"/> waits for it), so every write the
/// store accepted is answered.
/// </remarks>
public sealed partial class MessagePublisher(IMessageWriter store, StreamPosition position, IDelivery delivery, ChatMetrics metrics, ILogger<MessagePublisher> logger)
    : IHostedLifecycleService
{
    private Task _loop = Task.CompletedTask;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _loop = Task.Run(PublishLoopAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>After every hosted service stopped (the store drained and completed <see cref="IMessageWriter.Committed"/>).</summary>
    public Task StoppedAsync(CancellationToken cancellationToken) => _loop.WaitAsync(cancellationToken);

    private async Task PublishLoopAsync()
    {
        var committed = store.Committed;
        while (await committed.WaitToReadAsync())
            while (committed.TryRead(out var batch))
                Publish(batch);
    }

    /// <summary>Publishes one committed batch, then answers its writes.</summary>
    public void Publish(CommittedBatch batch)
    {
        position.Advance(batch.DurableUpTo);
        var frames = new StreamBatch(batch.PositionBefore, batch.PositionAfter);
        foreach (var request in batch.Requests)
        {
            try
            {
                switch (request)
                {
                    case SendRequest { Result: { } sent } send:
                        if (!sent.Duplicate)
                        {
                            frames.AddMessage(sent.Message);
                            metrics.MessageStored();
                        }
                        if (send.Command.ReplyTo is { } socket) frames.Reply(socket, Frames.Ack(send.Command.ClientMsgId, sent.Message));
                        break;
                    case ReadRequest { Result: { } read }:
                        var frame = OutboundFrame.Of(new MessagesReadFrame(read.ConversationId, read.Reader.Username, read.UpToMessageId),
                            ChatJson.Wire.MessagesReadFrame);
                        frames.ToUser(read.Reader.Id, frame);
                        frames.ToUser(read.OtherUserId, frame);
                        break;
                }
            }
            catch (Exception e)
            {
                // A failure to notify never fails the write (contract section 2): it is durable, and clients recover with sync.
                LogNotifyFailed(logger, e);
            }
        }
        try
        {
            delivery.Publish(frames);
        }
        catch (Exception e)
        {
            LogNotifyFailed(logger, e);
        }
        foreach (var request in batch.Requests) request.Complete();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Publishing a committed write failed; the write stands")]
    private static partial void LogNotifyFailed(ILogger logger, Exception e);
}
