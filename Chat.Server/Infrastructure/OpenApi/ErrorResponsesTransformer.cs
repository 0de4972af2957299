using Chat.Protocol;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// The error answers every operation shares: each 4xx/5xx response is problem details whose description names the
/// <c>code</c> values it can carry; every operation can answer 500 <c>internal</c> (an unexpected fault: nothing was
/// stored); a 429 carries <c>Retry-After</c>.
/// </summary>
internal sealed class ErrorResponsesTransformer : IOpenApiOperationTransformer
{
    /// <summary>The name of the problem-details schema in <c>components.schemas</c> (the framework's).</summary>
    public const string ProblemSchema = "ProblemDetails";

    /// <summary>Which contract codes each status can carry (contract section 2).</summary>
    private static readonly Dictionary<int, string> CodesByStatus = new()
    {
        [400] = $"`{ErrorCodes.BadRequest}` (malformed body, field or query parameter); on a send also `{ErrorCodes.InvalidReceiver}`, `{ErrorCodes.EmptyMessage}` or `{ErrorCodes.MessageTooLong}`",
        [401] = $"`{ErrorCodes.Unauthorized}` (missing, unknown, expired or revoked token); on login `{ErrorCodes.InvalidCredentials}`",
        [404] = $"`{ErrorCodes.NotFound}`; on a send to an unknown receiver `{ErrorCodes.UnknownUser}`",
        [409] = $"`{ErrorCodes.UsernameTaken}`",
        [413] = $"`{ErrorCodes.TooLarge}`",
        [415] = $"`{ErrorCodes.UnsupportedMediaType}`",
        [429] = $"`{ErrorCodes.RateLimited}`; retry after `Retry-After` seconds",
        [500] = $"`{ErrorCodes.Internal}`: the request failed and nothing was stored",
        [503] = $"`{ErrorCodes.Internal}`: the database cannot be reached (authentication needs it); try again shortly",
    };

    /// <inheritdoc />
    public Task TransformAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        Ensure(operation, 500, context.Document);
        foreach (var (key, response) in operation.Responses ?? [])
        {
            if (!int.TryParse(key, out var status) || status < 400 || response is not OpenApiResponse r) continue;
            r.Description = Describe(status);
            if (status == 429)
            {
                r.Headers ??= new Dictionary<string, IOpenApiHeader>();
                r.Headers["Retry-After"] = new OpenApiHeader
                {
                    Description = "Seconds to wait before retrying.",
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Minimum = "1" },
                };
            }
        }
        return Task.CompletedTask;
    }

    /// <summary>The response for <paramref name="status"/>, added as problem details when the operation lacks it.</summary>
    public static OpenApiResponse Ensure(OpenApiOperation operation, int status, OpenApiDocument? document)
    {
        operation.Responses ??= new OpenApiResponses();
        var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (operation.Responses.TryGetValue(key, out var existing) && existing is OpenApiResponse found) return found;
        var response = new OpenApiResponse
        {
            Description = Describe(status),
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(ProblemSchema, document) },
            },
        };
        operation.Responses[key] = response;
        return response;
    }

    /// <summary>The standard title of <paramref name="status"/> and the codes it can carry.</summary>
    public static string Describe(int status) =>
        CodesByStatus.TryGetValue(status, out var codes) ? $"{Problems.TitleFor(status)}: {codes}." : Problems.TitleFor(status);
}
