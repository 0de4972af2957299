using System.Collections.Concurrent;
using Chat.Protocol;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
using Chat.Server.Realtime;
using Chat.Server.Storage;
using Microsoft.Extensions.Options;

namespace Chat.Server.Messaging;

/// <summary>
/// The one send path (the seed's <c>send_message_new</c>) behind both <c>POST /api/messages</c> and the
/// <c>send_message</c> frame, and the home of its domain rules (contract section 2): the message's length and text,
/// the idempotency key's shape, the rate limit, the receiver, and which conversation the message goes to. It queues the
/// write to the store and waits until the publisher answers: by then the message is durable and its frames are queued.
/// </summary>
public sealed class SendMessageHandler(IUserStore users, IMessageStore store, IMessageWriter writer, SendRateLimiter limiter, IOptions<ChatOptions> options)
{
    /// <summary>The longest <c>client_msg_id</c>, in UTF-16 code units (protocol.md).</summary>
    public const int MaxClientMsgIdLength = 64;

    // Conversation ids by user pair (smaller id first). A conversation never changes its id and is never deleted, so an
    // entry is never stale; the map is emptied when it grows past this many pairs (about 100 bytes each).
    private const int MaxCachedConversations = 200_000;
    private readonly ConcurrentDictionary<(long, long), long> _conversations = new();

    /// <summary>
    /// Stores a message and publishes it. Throws <see cref="ChatException"/>: 400 <c>bad_request</c>, <c>empty_message</c>,
    /// <c>message_too_long</c>, <c>invalid_receiver</c>; 404 <c>unknown_user</c>; 429 <c>rate_limited</c>; 500/503
    /// <c>internal</c> when the store failed (nothing acknowledged).
    /// </summary>
    /// <param name="replyTo">The socket to <c>ack</c> (a <c>send_message</c> frame); null over HTTP.</param>
    /// <returns>The stored message, or the original for a repeated <paramref name="clientMsgId"/>.</returns>
    public async Task<SendResult> SendAsync(long senderId, string receiver, string message, string? clientMsgId,
        ChatConnection? replyTo, CancellationToken ct)
    {
        if (clientMsgId is not null && !Validation.HasLength(clientMsgId, 1, MaxClientMsgIdLength))
            throw ChatException.BadRequest($"client_msg_id must be a string of 1-{MaxClientMsgIdLength} characters.");
        if (!Validation.IsWellFormed(message))
            throw ChatException.BadRequest("message is not valid Unicode text (no lone surrogates, no U+0000).");
        if (string.IsNullOrWhiteSpace(message))
            throw new ChatException(400, ErrorCodes.EmptyMessage, "message must not be empty or only white space.");
        var max = options.Value.MaxMessageLength;
        if (message.Length > max && Validation.CodePoints(message) > max)
            throw new ChatException(400, ErrorCodes.MessageTooLong, $"message must be at most {max} characters.");

        await limiter.AcquireAsync(senderId);

        var sender = await users.FindByIdAsync(senderId, ct) ?? throw new ChatException(401, ErrorCodes.Unauthorized, "Unknown user.");
        var target = await users.FindByUsernameAsync(receiver, ct) ?? throw ChatException.UnknownUser(receiver);
        if (target.Id == sender.Id)
            throw new ChatException(400, ErrorCodes.InvalidReceiver, "You cannot send a message to yourself.");

        // Unknown pair: null, and the store creates the conversation with this message (is_new_conversation), unless a
        // send committed first created it.
        var pair = sender.Id < target.Id ? (sender.Id, target.Id) : (target.Id, sender.Id);
        long? conversationId = _conversations.TryGetValue(pair, out var known) ? known : await store.FindConversationAsync(sender.Id, target.Id, ct);

        var request = new SendRequest(new SendCommand(sender, target, message, clientMsgId, conversationId, replyTo));
        await writer.EnqueueAsync(request, ct);
        var result = await request.Completion;

        if (!result.Duplicate && !_conversations.ContainsKey(pair))
        {
            // Learned from the store (created now, or looked up): the next send to this pair needs no lookup.
            if (_conversations.Count >= MaxCachedConversations) _conversations.Clear();
            _conversations[pair] = result.Message.ConversationId;
        }
        return result;
    }
}
