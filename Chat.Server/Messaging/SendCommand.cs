using Chat.Server.Realtime;
using Chat.Server.Storage;

namespace Chat.Server.Messaging;

/// <summary>
/// A send that passed the domain rules (<see cref="SendMessageHandler"/>), ready for the store.
/// </summary>
/// <param name="ConversationId">
/// The pair's conversation when the handler knows it; null when it has none yet, and the store creates it in the same
/// transaction as this message (contract section 2: a conversation is created by its first message). Two first sends
/// racing for one pair are settled there: one creates it, the other finds it.
/// </param>
/// <param name="ClientMsgId">The idempotency key (1-64 characters), scoped to the sender; null for none.</param>
/// <param name="ReplyTo">The socket that sent a <c>send_message</c> frame: the publisher queues its <c>ack</c> there; null over HTTP.</param>
public sealed record SendCommand(UserRow Sender, UserRow Receiver, string Body, string? ClientMsgId, long? ConversationId, ChatConnection? ReplyTo);

/// <param name="Duplicate">True when <c>client_msg_id</c> matched an earlier send: nothing new was stored or published.</param>
public sealed record SendResult(StoredMessage Message, bool Duplicate);

/// <summary>A read-cursor move that passed the domain rules (<see cref="ReadHandler"/>); <paramref name="UpToMessageId"/> null means the newest.</summary>
public sealed record ReadCommand(UserRow Reader, long ConversationId, long? UpToMessageId);

/// <summary>Where the cursor ended (never backwards, never past the newest message) and the unread count left.</summary>
public sealed record ReadResult(long ConversationId, UserRow Reader, long OtherUserId, long UpToMessageId, long UnreadCount);
