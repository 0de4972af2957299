using Chat.Protocol;
using Chat.Protocol.Http;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
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
        .Accepts<SendMessageRequest>("application/json")
        .Produces<SendMessageResponse>(201)
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(404)
        .ProducesProblem(429)
        .ProducesProblem(500);

        var conversations = app.MapGroup("/api/conversations").WithTags("Conversations").RequireAuthorization();

        conversations.MapGet("/", async (HttpContext http, IMessageStore store, CancellationToken ct) =>
        {
            var limit = Query.Limit(http.Request, DefaultConversationLimit, MaxConversationLimit);
            var list = await store.ListConversationsAsync(http.User.UserId(), limit, ct);
            return TypedResults.Json(new ConversationListResponse(list.Select(c => c.ToDto()).ToList()), ChatJson.Wire.ConversationListResponse);
        })
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
        .Accepts<MarkReadRequest>(isOptional: true, "application/json")
        .Produces<MarkReadResponse>()
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(404);

        return app;
    }
}
