using Chat.Protocol;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
using Chat.Server.Storage;
using Microsoft.Extensions.Options;

namespace Chat.Server.Messaging;

/// <summary>
/// The one send path (the seed's <c>send_message_new</c>) behind both <c>POST /api/messages</c> and the
/// <c>send_message</c> frame: validate, rate-limit, commit, and let the writer notify.
/// </summary>
public sealed class SendMessageHandler(IUserStore users, IMessageWriter writer, SendRateLimiter limiter, IOptions<ChatOptions> options)
{
    public const int MaxClientMsgIdLength = 64;

    public async Task<SendResult> SendAsync(long senderId, string receiver, string message, string? clientMsgId,
        Action<SendResult>? onCommitted, CancellationToken ct)
    {
        if (clientMsgId is not null && !Validation.HasLength(clientMsgId, 1, MaxClientMsgIdLength))
            throw ChatException.BadRequest($"client_msg_id must be a string of 1-{MaxClientMsgIdLength} characters.");
        if (!Validation.IsWellFormed(message))
            throw ChatException.BadRequest("message is not valid Unicode text.");
        if (string.IsNullOrWhiteSpace(message))
            throw new ChatException(400, ErrorCodes.EmptyMessage, "message must not be empty or only white space.");
        var max = options.Value.MaxMessageLength;
        if (message.Length > max && Validation.CodePoints(message) > max)
            throw new ChatException(400, ErrorCodes.MessageTooLong, $"message must be at most {max} characters.");

        limiter.Acquire(senderId);

        var sender = await users.FindByIdAsync(senderId, ct) ?? throw new ChatException(401, ErrorCodes.Unauthorized, "Unknown user.");
        var target = await users.FindByUsernameAsync(receiver, ct) ?? throw ChatException.UnknownUser(receiver);
        if (target.Id == sender.Id)
            throw new ChatException(400, ErrorCodes.InvalidReceiver, "You cannot send a message to yourself.");

        return await writer.SendAsync(new SendCommand(sender, target, message, clientMsgId, onCommitted), ct);
    }
}
