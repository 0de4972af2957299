using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.OpenApi;

namespace Chat.Server.Infrastructure.OpenApi;

/// <summary>
/// Endpoint-level additions to the document for what the framework cannot infer: query parameters the handlers read
/// by hand (<see cref="Query"/>, so that they control their own 400 answers) and raw image bodies.
/// </summary>
internal static class EndpointDocumentation
{
    /// <summary>The image types an avatar may have (Users/ImageSignature.cs).</summary>
    public static readonly string[] ImageTypes = ["image/png", "image/jpeg", "image/gif", "image/webp"];

    /// <summary>
    /// Documents <c>limit</c> with the contract's rule (<see cref="Query.Limit"/>): absent is <paramref name="default"/>,
    /// above <paramref name="max"/> is treated as <paramref name="max"/>, below 1 is 400 <c>bad_request</c>.
    /// </summary>
    public static RouteHandlerBuilder WithLimitParameter(this RouteHandlerBuilder builder, int @default, int max) =>
        builder.WithQueryParameter(new OpenApiParameter
        {
            Name = "limit",
            In = ParameterLocation.Query,
            Required = false,
            Description = $"How many items at most (default {@default}). A value above {max} is treated as {max}; below 1 is 400 `bad_request`.",
            Schema = new OpenApiSchema
            {
                Type = JsonSchemaType.Integer,
                Format = "int32",
                Default = JsonValue.Create(@default),
                Minimum = "1",
                Maximum = max.ToString(CultureInfo.InvariantCulture),
            },
        });

    /// <summary>Documents an optional 64-bit integer query parameter (read by <see cref="Query.Long"/>).</summary>
    public static RouteHandlerBuilder WithInt64Parameter(this RouteHandlerBuilder builder, string name, string description) =>
        builder.WithQueryParameter(new OpenApiParameter
        {
            Name = name,
            In = ParameterLocation.Query,
            Required = false,
            Description = description + " Not an integer: 400 `bad_request`.",
            Schema = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int64" },
        });

    /// <summary>Documents a required string query parameter.</summary>
    public static RouteHandlerBuilder WithRequiredTextParameter(this RouteHandlerBuilder builder, string name, string description) =>
        builder.WithQueryParameter(new OpenApiParameter
        {
            Name = name,
            In = ParameterLocation.Query,
            Required = true,
            Description = description,
            Schema = new OpenApiSchema { Type = JsonSchemaType.String },
        });

    /// <summary>Documents a raw image request body of one of <see cref="ImageTypes"/>.</summary>
    public static RouteHandlerBuilder WithImageRequestBody(this RouteHandlerBuilder builder, string description) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.RequestBody = new OpenApiRequestBody { Required = true, Description = description, Content = ImageContent() };
            return Task.CompletedTask;
        });

    /// <summary>Documents a 200 answer of raw image bytes of one of <see cref="ImageTypes"/>.</summary>
    public static RouteHandlerBuilder WithImageResponse(this RouteHandlerBuilder builder, string description) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Responses ??= new OpenApiResponses();
            operation.Responses["200"] = new OpenApiResponse { Description = description, Content = ImageContent() };
            return Task.CompletedTask;
        });

    private static RouteHandlerBuilder WithQueryParameter(this RouteHandlerBuilder builder, OpenApiParameter parameter) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            operation.Parameters.Add(parameter);
            return Task.CompletedTask;
        });

    private static Dictionary<string, OpenApiMediaType> ImageContent() =>
        ImageTypes.ToDictionary(t => t, _ => new OpenApiMediaType { Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary" } });
}
