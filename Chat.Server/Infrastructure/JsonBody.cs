using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Chat.Protocol;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Net.Http.Headers;

namespace Chat.Server.Infrastructure;

/// <summary>
/// Reads a JSON request body with the protocol's source-generated metadata, for every JSON endpoint. The one
/// content-type rule (<see cref="IsJson"/>) is checked here, a missing Content-Type included: 415
/// <c>unsupported_media_type</c>. Any parse or type error is the contract's 400 <c>bad_request</c>, with the offending
/// path but never the value.
/// </summary>
internal static class JsonBody
{
    public static async Task<T> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo) where T : class
    {
        if (!IsJson(request.ContentType))
            throw new ChatException(415, ErrorCodes.UnsupportedMediaType, "The body must be JSON, sent as Content-Type: application/json.");
        try
        {
            // Read through the pipe (not Body): ReadOptionalAsync may already have looked at the first bytes there.
            var value = await JsonSerializer.DeserializeAsync(request.BodyReader, typeInfo, request.HttpContext.RequestAborted);
            return value ?? throw ChatException.BadRequest("The request body must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw ChatException.BadRequest(Describe(e));
        }
    }

    /// <summary>
    /// For an endpoint whose body is optional: an empty body, however it is framed (no body, <c>Content-Length: 0</c>,
    /// an empty chunked body), is <paramref name="empty"/> and needs no Content-Type; any other body follows
    /// <see cref="ReadAsync{T}"/>.
    /// </summary>
    public static async Task<T> ReadOptionalAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, T empty) where T : class =>
        await IsEmptyAsync(request) ? empty : await ReadAsync(request, typeInfo);

    /// <summary>
    /// The content-type rule of every JSON endpoint: <c>application/json</c>, or a structured-syntax <c>application/*+json</c>
    /// type (RFC 6839; ASP.NET Core's routing treats these as JSON too), with no charset or <c>charset=utf-8</c> (JSON is
    /// UTF-8, RFC 8259). Anything else, a missing or unparsable Content-Type included, is refused.
    /// </summary>
    public static bool IsJson(string? contentType)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media)) return false;
        var json = media.MediaType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            || (media.Type.Equals("application", StringComparison.OrdinalIgnoreCase) && media.Suffix.Equals("json", StringComparison.OrdinalIgnoreCase));
        return json && (!media.Charset.HasValue
            || HeaderUtilities.RemoveQuotes(media.Charset).Equals("utf-8", StringComparison.OrdinalIgnoreCase));
    }

    private static async ValueTask<bool> IsEmptyAsync(HttpRequest request)
    {
        if (request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody == false) return true;
        // Framed without a length (chunked): look at the first bytes without consuming them.
        var reader = request.BodyReader;
        var result = await reader.ReadAsync(request.HttpContext.RequestAborted);
        reader.AdvanceTo(result.Buffer.Start);
        return result.Buffer.IsEmpty && result.IsCompleted;
    }

    public static string Describe(JsonException e) =>
        e.Path is { Length: > 1 } path
            ? $"Field '{path.TrimStart('$', '.')}' is missing, null or of the wrong type."
            : e.Message.Contains("missing required", StringComparison.Ordinal)
                ? "A required field is missing."
                : "The body is not a valid JSON object of the expected shape.";
}
