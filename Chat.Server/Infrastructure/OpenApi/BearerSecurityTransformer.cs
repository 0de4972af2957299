using Chat.Server.Auth;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// The bearer token scheme (<see cref="TokenAuthenticationHandler"/>): declared once in the components, required by every
/// operation whose endpoint has <c>RequireAuthorization</c>, and explicitly not by the others (<c>security: [{}]</c>), so
/// generated clients send the token exactly where it is needed. A protected operation also documents its 401
/// (<c>unauthorized</c>, with <c>WWW-Authenticate: Bearer</c>) and its 503 (<c>internal</c>: the token cannot be checked
/// while the database is unreachable).
/// </summary>
internal sealed class BearerSecurityTransformer : IOpenApiDocumentTransformer, IOpenApiOperationTransformer
{
    /// <summary>The name of the scheme in <c>components.securitySchemes</c>.</summary>
    public const string SchemeName = TokenAuthenticationHandler.SchemeName;

    /// <inheritdoc />
    public Task TransformAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[SchemeName] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "The opaque token answered by register or login: `Authorization: Bearer <token>`. " +
                "Valid until logout or until `Chat:TokenLifetime` (default 30 days).",
        };
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (!IsProtected(context.Description.ActionDescriptor.EndpointMetadata))
        {
            // An empty requirement: this operation needs no credentials (the document has no global requirement).
            operation.Security = [new OpenApiSecurityRequirement()];
            return Task.CompletedTask;
        }
        operation.Security = [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(SchemeName, context.Document)] = [] }];
        operation.Responses ??= new OpenApiResponses();
        var unauthorized = ErrorResponsesTransformer.Ensure(operation, 401, context.Document);
        unauthorized.Headers ??= new Dictionary<string, IOpenApiHeader>();
        unauthorized.Headers["WWW-Authenticate"] = new OpenApiHeader
        {
            Description = "`Bearer`.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        };
        ErrorResponsesTransformer.Ensure(operation, 503, context.Document);
        return Task.CompletedTask;
    }

    /// <summary>True for an endpoint with <c>RequireAuthorization</c> (and no <c>AllowAnonymous</c>).</summary>
    public static bool IsProtected(IEnumerable<object> metadata)
    {
        var list = metadata as IList<object> ?? metadata.ToList();
        return list.OfType<IAuthorizeData>().Any() && !list.OfType<IAllowAnonymous>().Any();
    }
}
