using System.Text.Json;
using Chat.Protocol;
using Chat.Protocol.Frames;
using Chat.Server.Infrastructure;
using Chat.Server.Messaging;
using Chat.Server.Observability;
using Chat.Server.Storage;

namespace Chat.Server.Realtime;

/// <summary>
/// Reads one client frame and acts on it. <c>type</c> may stand anywhere in the object. Every refusal is an
/// <c>error</c> frame on the same socket, which stays open.
/// </summary>
public sealed partial class ClientFrameHandler(
    SendMessageHandler sends,
    ReadHandler reads,
    IMessageStore store,
    IUserStore users,
    IDelivery delivery,
    ChatMetrics metrics,
    ILogger<ClientFrameHandler> logger)
{
    public const int DefaultSyncLimit = 500;
    public const int MaxSyncLimit = 1000;

    public async ValueTask HandleAsync(ChatConnection connection, ReadOnlyMemory<byte> utf8)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(utf8);
        }
        catch (JsonException)
        {
            connection.Send(Frames.Error(ErrorCodes.BadJson, "The frame is not valid JSON.", null));
            return;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                connection.Send(Frames.Error(ErrorCodes.BadJson, "The frame must be a JSON object.", null));
                return;
            }
            var clientMsgId = root.TryGetProperty("client_msg_id", out var idElement) && idElement.ValueKind == JsonValueKind.String
                ? idElement.GetString()
                : null;
            if (!root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                connection.Send(Frames.Error(ErrorCodes.BadFrame, "The frame needs a string 'type'.", clientMsgId));
                return;
            }

            try
            {
                switch (typeElement.GetString())
                {
                    case FrameTypes.SendMessage:
                        await StartSendAsync(connection, Read(root, ChatJson.Wire.SendMessageFrame));
                        break;
                    case FrameTypes.MarkRead:
                        var read = Read(root, ChatJson.Wire.MarkReadFrame);
                        await reads.MarkReadAsync(connection.UserId, read.ConversationId, read.UpToMessageId, CancellationToken.None);
                        break;
                    case FrameTypes.Typing:
                        await TypingAsync(connection, Read(root, ChatJson.Wire.TypingRequestFrame));
                        break;
                    case FrameTypes.Sync:
                        await SyncAsync(connection, ReadSync(root));
                        break;
                    case FrameTypes.Ping:
                        connection.Send(Frames.Pong);
                        break;
                    default:
                        connection.Send(Frames.Error(ErrorCodes.UnknownType, "Unknown frame type.", clientMsgId));
                        break;
                }
            }
            catch (ChatException e)
            {
                connection.Send(ErrorFrame(e, clientMsgId));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                LogFrameFailed(logger, e);
                connection.Send(Frames.Error(ErrorCodes.Internal, "The server could not complete the request.", clientMsgId));
            }
        }
    }

    private static T Read<T>(JsonElement root, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        try
        {
            return root.Deserialize(typeInfo) ?? throw new ChatException(400, ErrorCodes.BadFrame, "Empty frame.");
        }
        catch (JsonException e)
        {
            throw new ChatException(400, ErrorCodes.BadFrame, JsonBody.Describe(e));
        }
    }

    /// <summary>A <c>limit</c> with more digits than a long holds is still "above the maximum", as over HTTP.</summary>
    private static SyncFrame ReadSync(JsonElement root)
    {
        if (root.TryGetProperty("limit", out var limit) && limit.ValueKind == JsonValueKind.Number && !limit.TryGetInt64(out _)
            && limit.GetRawText().All(char.IsAsciiDigit))
        {
            var copy = System.Text.Json.Nodes.JsonObject.Create(root)!;
            copy["limit"] = MaxSyncLimit;
            using var replaced = JsonDocument.Parse(copy.ToJsonString());
            return Read(replaced.RootElement, ChatJson.Wire.SyncFrame);
        }
        return Read(root, ChatJson.Wire.SyncFrame);
    }

    private static OutboundFrame ErrorFrame(ChatException e, string? clientMsgId) =>
        // Over WebSocket a malformed field is bad_frame; every other code is the same as over HTTP.
        Frames.Error(e.Code == ErrorCodes.BadRequest ? ErrorCodes.BadFrame : e.Code, e.Message, clientMsgId);

    private async Task StartSendAsync(ChatConnection connection, SendMessageFrame frame)
    {
        if (!connection.AcceptingSends)
        {
            RefuseClosing(connection, frame);
            return;
        }
        // Waiting here (not in the task) stops the receive loop when too many sends are in flight: backpressure.
        await connection.BeginSendAsync(CancellationToken.None);
        if (!connection.AcceptingSends)
        {
            // A graceful close started while this send waited for its slot, and may have seen no send in flight: it
            // would not wait for this one's ack, so it is not taken.
            connection.EndSend();
            RefuseClosing(connection, frame);
            return;
        }
        _ = CompleteSendAsync(connection, frame);
    }

    /// <summary>The socket is closing (shutdown): nothing is stored; the client resends after reconnecting (protocol.md).</summary>
    private static void RefuseClosing(ChatConnection connection, SendMessageFrame frame) =>
        connection.Send(Frames.Error(ErrorCodes.Internal, "The server is shutting down; nothing was stored. Resend after reconnecting.", frame.ClientMsgId));

    private async Task CompleteSendAsync(ChatConnection connection, SendMessageFrame frame)
    {
        try
        {
            // The publisher queues the ack on this socket right after message_sent, in commit order.
            await sends.SendAsync(connection.UserId, frame.Receiver, frame.Message, frame.ClientMsgId, connection, CancellationToken.None);
        }
        catch (ChatException e)
        {
            connection.Send(ErrorFrame(e, frame.ClientMsgId));
        }
        catch (Exception e)
        {
            LogFrameFailed(logger, e);
            connection.Send(Frames.Error(ErrorCodes.Internal, "The message was not stored.", frame.ClientMsgId));
        }
        finally
        {
            connection.EndSend();
        }
    }

    private async Task TypingAsync(ChatConnection connection, TypingRequestFrame frame)
    {
        var other = await users.FindByUsernameAsync(frame.Receiver, CancellationToken.None);
        var conversationId = other is null ? null : await store.FindConversationAsync(connection.UserId, other.Id, CancellationToken.None);
        if (conversationId is null) throw ChatException.NotFound("You have no conversation with that user.");
        var me = await users.FindByIdAsync(connection.UserId, CancellationToken.None) ?? throw ChatException.NotFound();
        delivery.SendToUser(other!.Id, OutboundFrame.Of(new TypingFrame(me.Username, me.DisplayName, conversationId.Value),
            ChatJson.Wire.TypingFrame, ephemeral: true));
    }

    /// <summary>
    /// Replays, up to the stream position, what the user sent or received after <c>after_message_id</c>, then
    /// <c>sync_complete</c>. Live frames wait behind the replay (<see cref="ChatConnection.BeginCatchUp"/>) until a page
    /// without more, so each conversation's frames stay in ascending order on this socket.
    /// </summary>
    private async Task SyncAsync(ChatConnection connection, SyncFrame frame)
    {
        if (frame.Limit is < 1) throw ChatException.BadRequest("limit must be at least 1.");
        var limit = (int)Math.Min(frame.Limit ?? DefaultSyncLimit, MaxSyncLimit);
        connection.BeginCatchUp();
        var (last, hasMore) = (frame.AfterMessageId, false);
        var replayed = 0;
        try
        {
            var (messages, more) = await store.SyncAsync(connection.UserId, frame.AfterMessageId, limit, CancellationToken.None);
            foreach (var m in messages)
            {
                var mine = m.Sender.Id == connection.UserId;
                if (!await connection.SendReplyAsync(Frames.Message(m, mine ? FrameTypes.MessageSent : FrameTypes.ChatMessage), CancellationToken.None)) return;
                if (!mine && m.IsNewConversation && !await connection.SendReplyAsync(Frames.ConversationRefresh(m), CancellationToken.None)) return;
                last = m.Id;
                replayed++;
            }
            hasMore = more;
            await connection.SendReplyAsync(OutboundFrame.Of(new SyncCompleteFrame(last, hasMore), ChatJson.Wire.SyncCompleteFrame), CancellationToken.None);
        }
        finally
        {
            // A failed replay (the database is down) lets the held frames go: the client retries its sync.
            connection.EndCatchUp(last, hasMore);
            metrics.SyncAnswered(replayed);
        }
    }

    [LoggerMessage(EventId = Observability.ChatEventIds.FrameHandlingFailed, EventName = "FrameHandlingFailed", Level = LogLevel.Error, Message = "Handling a client frame failed")]
    private static partial void LogFrameFailed(ILogger logger, Exception e);
}
