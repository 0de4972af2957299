namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// The OpenAPI document served at <c>/openapi/v1.json</c>: the framework's generator plus this folder's transformers,
/// so that a client generated from it (openapi-typescript, Kiota, NSwag) works without hand edits.
/// </summary>
public static class OpenApiServices
{
    /// <summary>Registers the document <c>v1</c> and every transformer of this folder.</summary>
    public static IServiceCollection AddChatOpenApi(this IServiceCollection services)
    {
        services.AddOpenApi(o =>
        {
            o.AddDocumentTransformer<DocumentInfoTransformer>();
            o.AddDocumentTransformer<BearerSecurityTransformer>();
            o.AddOperationTransformer<BearerSecurityTransformer>();
            o.AddOperationTransformer<ErrorResponsesTransformer>();
            o.AddSchemaTransformer<ProblemDetailsSchemaTransformer>();
            o.AddDocumentTransformer<HealthPathTransformer>();
            o.AddDocumentTransformer<WebSocketPathTransformer>();
        });
        return services;
    }
}
