using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// Describes <c>GET /ws</c> (Realtime/WebSocketEndpoint.cs, contract section 3): the upgrade, its two ways to pass the
/// token, and the answers before it. OpenAPI cannot describe the frames; the description points to protocol.md.
/// The endpoint itself is excluded from the API explorer (it accepts any method and is not a JSON operation).
/// </summary>
internal sealed class WebSocketPathTransformer : IOpenApiDocumentTransformer
{
    /// <summary>The documented path.</summary>
    public const string Path = "/ws";

    /// <summary>The security scheme for <c>?token=</c> (browsers cannot set headers on a WebSocket).</summary>
    public const string QueryTokenScheme = "QueryToken";

    /// <inheritdoc />
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[QueryTokenScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Query,
            Name = "token",
            Description = "The bearer token as `?token=<token>`, accepted on `GET /ws` only (browsers cannot set headers on a WebSocket). A bearer header wins when both are sent.",
        };

        var operation = new OpenApiOperation
        {
            OperationId = "connectWebSocket",
            Summary = "Open the real-time WebSocket",
            Description =
                "A WebSocket upgrade (RFC 6455): send `Connection: Upgrade`, `Upgrade: websocket` and the usual `Sec-WebSocket-*` headers. " +
                "Authenticate with `Authorization: Bearer <token>` or, from a browser, `?token=<token>`. A missing or bad token is answered " +
                "401 before the upgrade; a plain HTTP request (no upgrade) is answered 400. After the upgrade every frame is one JSON object " +
                "in one text message with a string `type`: the frames (`connected`, `chat_message`, `send_message`, `sync`, ...), close codes " +
                "and delivery guarantees are documented in protocol.md (section WebSocket), not in this document.",
            Tags = new HashSet<OpenApiTagReference> { new("Realtime", document) },
            Security =
            [
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerSecurityTransformer.SchemeName, document)] = [] },
                new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(QueryTokenScheme, document)] = [] },
            ],
            Responses = new OpenApiResponses
            {
                ["101"] = new OpenApiResponse { Description = "Switching Protocols: the socket is open; the first frame is `connected`." },
            },
        };
        ErrorResponsesTransformer.Ensure(operation, 400, document).Description = "Bad Request: `bad_request`, not a WebSocket upgrade request.";
        ErrorResponsesTransformer.Ensure(operation, 401, document).Description = "Unauthorized: `unauthorized`, the token is missing, unknown, expired or revoked.";
        ErrorResponsesTransformer.Ensure(operation, 403, document).Description =
            "Forbidden: `origin_not_allowed`, the request comes from a web page (`Origin`) of another origin that `Chat:AllowedOrigins` does not list; checked before the token.";
        var full = ErrorResponsesTransformer.Ensure(operation, 503, document);
        full.Description = "Service Unavailable: `internal`, the server holds as many WebSockets as it can, or the database cannot be reached to check the token.";
        full.Headers = new Dictionary<string, IOpenApiHeader>
        {
            ["Retry-After"] = new OpenApiHeader
            {
                Description = "Seconds to wait before reconnecting (sent when the server is full).",
                Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
            },
        };
        document.Paths ??= new OpenApiPaths();
        document.Paths[Path] = new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Get] = operation } };
        return Task.CompletedTask;
    }
}
