using System.Text.Json.Nodes;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// Describes the health endpoints (Hosting/HealthEndpoint.cs): <c>GET /healthz</c>, <c>/healthz/live</c> and
/// <c>/healthz/ready</c>. The framework's health-check endpoints are not route handlers, so the API explorer does not list
/// them; the paths are added here with their two answers.
/// </summary>
internal sealed class HealthPathTransformer : IOpenApiDocumentTransformer
{
    /// <summary>The documented path of the contract's check.</summary>
    public const string Path = "/healthz";

    private static readonly (string Path, string OperationId, string Summary, string Description, string Unhealthy)[] Endpoints =
    [
        (Path, "getHealth", "Check that the server can reach its database",
            "200 while the database can be reached and written; 503 problem details with code `internal` otherwise. Needs no token.",
            "Service Unavailable: `internal`, the database cannot be reached or written."),
        (Path + "/live", "getLiveness", "Check that the process answers (liveness)",
            "200 whenever the process answers requests: no dependency is checked, so an orchestrator restarts only a process that is stuck. Needs no token.",
            "Service Unavailable: `internal` (not answered by a responsive process)."),
        (Path + "/ready", "getReadiness", "Check that the node should receive traffic (readiness)",
            "200 while the database can be reached and written and the node is not shutting down; `degraded` (still 200) while a cluster's Redis backplane is down. " +
            "503 problem details with code `internal` while the database fails or from the moment the node begins to stop (`Chat:DrainDelay`), so a load balancer drains it. Needs no token.",
            "Service Unavailable: `internal`, the database cannot be written or the node is draining."),
    ];

    /// <inheritdoc />
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Paths ??= new OpenApiPaths();
        foreach (var endpoint in Endpoints)
        {
            var operation = new OpenApiOperation
            {
                OperationId = endpoint.OperationId,
                Summary = endpoint.Summary,
                Description = endpoint.Description,
                Tags = new HashSet<OpenApiTagReference> { new("Health", document) },
                Security = [new OpenApiSecurityRequirement()],
                Responses = new OpenApiResponses
                {
                    ["200"] = new OpenApiResponse
                    {
                        Description = "Healthy (or degraded but serving).",
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
                                        ["status"] = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [JsonValue.Create("healthy"), JsonValue.Create("degraded")] },
                                    },
                                },
                            },
                        },
                    },
                },
            };
            ErrorResponsesTransformer.Ensure(operation, 503, document).Description = endpoint.Unhealthy;
            document.Paths[endpoint.Path] = new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Get] = operation } };
        }
        return Task.CompletedTask;
    }
}
