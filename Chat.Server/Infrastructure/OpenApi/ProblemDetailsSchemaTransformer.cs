using Chat.Protocol;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using System.Text.Json.Nodes;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// The problem-details schema as the server writes it (<see cref="Problems"/>, <see cref="ErrorHandling"/>): RFC 9457's
/// members plus the contract's <c>code</c>, with <c>status</c>, <c>title</c>, <c>detail</c> and <c>code</c> always present.
/// </summary>
internal sealed class ProblemDetailsSchemaTransformer : IOpenApiSchemaTransformer
{
    /// <summary>Every <c>code</c> an HTTP answer can carry (the WebSocket-only frame codes are left out).</summary>
    public static readonly string[] HttpCodes =
    [
        ErrorCodes.BadRequest, ErrorCodes.Unauthorized, ErrorCodes.InvalidCredentials, ErrorCodes.UsernameTaken,
        ErrorCodes.UnknownUser, ErrorCodes.InvalidReceiver, ErrorCodes.EmptyMessage, ErrorCodes.MessageTooLong,
        ErrorCodes.NotFound, ErrorCodes.TooLarge, ErrorCodes.UnsupportedMediaType, ErrorCodes.RateLimited, ErrorCodes.Internal,
        ErrorCodes.OriginNotAllowed,
    ];

    /// <inheritdoc />
    public Task TransformAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonTypeInfo.Type != typeof(ProblemDetails)) return Task.CompletedTask;
        schema.Description = "RFC 9457 problem details with the machine-readable `code`.";
        schema.Properties ??= new Dictionary<string, IOpenApiSchema>();
        schema.Properties["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32", Description = "The HTTP status code." };
        schema.Properties["title"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "The status's standard title." };
        schema.Properties["detail"] = new OpenApiSchema { Type = JsonSchemaType.String, Description = "A human-readable explanation; never contains a submitted secret." };
        schema.Properties["code"] = new OpenApiSchema
        {
            Type = JsonSchemaType.String,
            Description = "Stable machine-readable error code; branch on this, not on `title` or `detail`. New codes may be added.",
            Enum = HttpCodes.Select(c => (JsonNode)JsonValue.Create(c)).ToList(),
        };
        schema.Required = new HashSet<string> { "status", "title", "detail", "code" };
        return Task.CompletedTask;
    }
}
