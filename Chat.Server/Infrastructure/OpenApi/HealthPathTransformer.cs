using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// Describes <c>GET /healthz</c> (Hosting/HealthEndpoint.cs). The framework's health-check endpoints are not route
/// handlers, so the API explorer does not list them; the path is added here with its two answers.
/// </summary>
internal sealed class HealthPathTransformer : IOpenApiDocumentTransformer
{
    /// <summary>The documented path.</summary>
    public const string Path = "/healthz";

    /// <inheritdoc />
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        var operation = new OpenApiOperation
        {
            OperationId = "getHealth",
            Summary = "Check that the server can reach its database",
            Description = "200 while every health check passes (the database is reachable); 503 problem details with code `internal` otherwise. Needs no token.",
            Tags = new HashSet<OpenApiTagReference> { new("Health", document) },
            Security = [new OpenApiSecurityRequirement()],
            Responses = new OpenApiResponses
            {
                ["200"] = new OpenApiResponse
                {
                    Description = "Healthy.",
                    Content = new Dictionary<string, OpenApiMediaType>
                    {
                        ["application/json"] = new()
                        {
                            Schema = new OpenApiSchema
                            {
                                Type = JsonSchemaType.Object,
                                Required = new HashSet<string> { "status" },
                                Properties = new Dictionary<string, IOpenApiSchema>
                                {
                                    ["status"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("healthy")] },
                                },
                            },
                        },
                    },
                },
            },
        };
        ErrorResponsesTransformer.Ensure(operation, 503, document).Description = "Service Unavailable: `internal`, the database cannot be reached.";
        document.Paths ??= new OpenApiPaths();
        document.Paths[Path] = new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Get] = operation } };
        return Task.CompletedTask;
    }
}
