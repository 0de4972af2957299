using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Chat.Server.Infrastructure;

/// <summary>
/// Reads a JSON request body with the protocol's source-generated metadata. Any parse or type error is
/// the contract's 400 <c>bad_request</c>, with the offending path but never the value.
/// </summary>
internal static class JsonBody
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo) where T : class
    {
        try
        {
            var value = await JsonSerializer.DeserializeAsync(request.Body, typeInfo, request.HttpContext.RequestAborted);
            return value ?? throw ChatException.BadRequest("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw ChatException.BadRequest(Describe(e));
        }
    }

    public static string Describe(JsonException e) =>
        e.Path is { Length: > 1 } path
            ? $"Field '{path.TrimStart('$', '.')}' is missing, null or of the wrong type."
            : e.Message.Contains("missing required", StringComparison.Ordinal)
                ? "A required field is missing."
                : "The body is not a valid JSON object of the expected shape.";
}
