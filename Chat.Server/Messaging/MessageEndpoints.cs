using Chat.Protocol;
using Chat.Protocol.Http;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
using Chat.Server.Infrastructure.OpenApi;
using Chat.Server.Storage;

namespace Chat.Server.Messaging;

internal static class MessageEndpoints
{
    public const int DefaultConversationLimit = 50;
    public const int MaxConversationLimit = 200;
    public const int DefaultHistoryLimit = 50;
    public const int MaxHistoryLimit = 200;

    public static IEndpointRouteBuilder MapMessaging(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/messages", async (HttpContext http, SendMessageHandler handler) =>
        {
            var body = await JsonBody.ReadAsync(http.Request, ChatJson.Wire.SendMessageRequest);
            // Not tied to RequestAborted: once queued, a send is committed even if the client hangs up.
            var result = await handler.SendAsync(http.User.UserId(), body.Receiver, body.Message, body.ClientMsgId, null, CancellationToken.None);
            var m = result.Message;
            return TypedResults.Json(
                new SendMessageResponse(m.Id, m.ConversationId, m.Sender.Username, m.Receiver.Username, m.Body, m.CreatedAt, m.IsNewConversation),
                ChatJson.Wire.SendMessageResponse, statusCode: 201);
        })
        .WithTags("Messages")
        .RequireAuthorization()
        .WithName("sendMessage")
        .WithSummary("Send a message")
        .WithDescription("Stores the message (creating the conversation on the first message between two users), then notifies both users' WebSockets. `client_msg_id` (1-64 characters) makes the send idempotent: a repeat answers 201 with the original message. Rate limited per user: 429 with Retry-After.")
        .Accepts<SendMessageRequest>("application/json")
        .Produces<SendMessageResponse>(201)
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(404)
        .ProducesProblem(413)
        .ProducesProblem(415)
        .ProducesProblem(429)
        .ProducesProblem(500);

        var conversations = app.MapGroup("/api/conversations").WithTags("Conversations").RequireAuthorization();

        conversations.MapGet("/", async (HttpContext http, IMessageStore store, CancellationToken ct) =>
        {
            var limit = Query.Limit(http.Request, DefaultConversationLimit, MaxConversationLimit);
            var list = await store.ListConversationsAsync(http.User.UserId(), limit, ct);
            return TypedResults.Json(new ConversationListResponse(list.Select(c => c.ToDto()).ToList()), ChatJson.Wire.ConversationListResponse);
        })
        .WithName("listConversations")
        .WithSummary("List the caller's conversations")
        .WithDescription("Newest activity first (by the id of each conversation's newest message), with the other user, the last message and the unread count.")
        .WithLimitParameter(DefaultConversationLimit, MaxConversationLimit)
        .Produces<ConversationListResponse>()
        .ProducesProblem(400)
        .ProducesProblem(401);

        conversations.MapGet("/{id:long}/messages", async (long id, HttpContext http, IMessageStore store, CancellationToken ct) =>
        {
            var limit = Query.Limit(http.Request, DefaultHistoryLimit, MaxHistoryLimit);
            var before = Query.Long(http.Request, "before");
            var messages = await store.HistoryAsync(http.User.UserId(), id, before, limit, ct)
                ?? throw ChatException.NotFound("No such conversation.");
            return TypedResults.Json(new MessageListResponse(messages.Select(m => m.ToDto()).ToList()), ChatJson.Wire.MessageListResponse);
        })
        .WithName("listMessages")
        .WithSummary("Page through a conversation's history")
        .WithDescription("The `limit` newest messages with id below `before` (no `before`: the newest), in ascending `message_id` order. To page back, pass the smallest `message_id` you hold as `before`; an empty list means the start was reached. A conversation that does not exist or that the caller is not part of is 404 `not_found`.")
        .WithInt64Parameter("before", "Only messages with a smaller `message_id`; absent: up to the newest.")
        .WithLimitParameter(DefaultHistoryLimit, MaxHistoryLimit)
        .Produces<MessageListResponse>()
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(404);

        conversations.MapPost("/{id:long}/read", async (long id, HttpContext http, ReadHandler reads) =>
        {
            var body = await JsonBody.ReadOptionalAsync(http.Request, ChatJson.Wire.MarkReadRequest, new MarkReadRequest());
            var result = await reads.MarkReadAsync(http.User.UserId(), id, body.UpToMessageId, CancellationToken.None);
            return TypedResults.Json(new MarkReadResponse(result.ConversationId, result.UpToMessageId, result.UnreadCount), ChatJson.Wire.MarkReadResponse);
        })
        .WithName("markConversationRead")
        .WithSummary("Mark a conversation read")
        .WithDescription("Moves the caller's read cursor to `up_to_message_id` (omitted, or no body: everything so far). The cursor never moves backwards nor past the newest message. Both users' WebSockets get a `messages_read` frame.")
        .Accepts<MarkReadRequest>(isOptional: true, "application/json")
        .Produces<MarkReadResponse>()
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(404)
        .ProducesProblem(413)
        .ProducesProblem(415);

        return app;
    }
}
