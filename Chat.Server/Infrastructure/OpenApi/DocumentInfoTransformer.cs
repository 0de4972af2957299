using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// The document's <c>info</c> (title, version, a description pointing to protocol.md), its tags with descriptions, and
/// server URLs without a trailing slash (generated clients append paths that already start with <c>/</c>).
/// </summary>
internal sealed class DocumentInfoTransformer : IOpenApiDocumentTransformer
{
    /// <summary>The tags every operation uses, with the description shown for each.</summary>
    public static readonly IReadOnlyDictionary<string, string> Tags = new Dictionary<string, string>
    {
        ["Auth"] = "Registration, login (throttled) and logout. Login and register need no token; each answers with a bearer token.",
        ["Users"] = "The caller's profile and avatar, user search, and avatar download (public, so `<img src>` works).",
        ["Messages"] = "Sending a message: stored first, then pushed to both users' WebSockets.",
        ["Conversations"] = "The caller's conversations, their history (paged with `before`) and read state.",
        ["Realtime"] = "The WebSocket endpoint. Its frames are described in protocol.md, not here.",
        ["Health"] = "Liveness for load balancers and orchestrators.",
    };

    /// <inheritdoc />
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Chat server API",
            Version = "v1",
            Description =
                "HTTP API of the self-hostable real-time chat server. JSON uses snake_case names; all ids are 64-bit " +
                "integers; `timestamp` and `created_at` are Unix seconds. Every operation but register, login, `/healthz` and " +
                "avatar download needs `Authorization: Bearer <token>` (the token from register or login). Errors are RFC 9457 " +
                "problem details (`application/problem+json`) with a machine-readable `code`.\n\n" +
                "Real-time delivery uses the WebSocket at `GET /ws`; its frames, close codes and delivery guarantees are " +
                "documented in `protocol.md` in the server's repository, which is also the reference for every rule summarised here.",
        };
        document.Tags = new HashSet<OpenApiTag>(Tags.Select(t => new OpenApiTag { Name = t.Key, Description = t.Value }));
        foreach (var server in document.Servers ?? [])
        {
            if (server.Url is { Length: > 1 } url && url.EndsWith('/')) server.Url = url.TrimEnd('/');
        }
        return Task.CompletedTask;
    }
}
