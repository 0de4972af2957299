using System.Net.Http.Headers;
using Chat.Protocol;
using Chat.Protocol.Http;
using Chat.Server.Auth;
using Chat.Server.Infrastructure;
using Chat.Server.Infrastructure.OpenApi;
using Chat.Server.Realtime;
using Chat.Server.Storage;
using Microsoft.Extensions.Options;

namespace Chat.Server.Users;

internal static class UserEndpoints
{
    public const int DefaultSearchLimit = 20;
    public const int MaxSearchLimit = 50;

    public static IEndpointRouteBuilder MapUsers(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api/users").WithTags("Users");

        group.MapGet("/me", async (HttpContext http, IUserStore users, CancellationToken ct) =>
            TypedResults.Json((await Me(http, users, ct)).ToDto(), ChatJson.Wire.UserDto))
            .RequireAuthorization()
            .WithName("getMe")
            .WithSummary("Get the caller's user object")
            .Produces<UserDto>()
            .ProducesProblem(401);

        group.MapPatch("/me", async (HttpContext http, IUserStore users, ISessionSignals signals, CancellationToken ct) =>
        {
            var body = await JsonBody.ReadAsync(http.Request, ChatJson.Wire.UpdateProfileRequest);
            var fullName = body.FullName is null ? null : Validation.FullName(body.FullName);
            var email = body.Email is null ? null : Validation.Email(body.Email);
            var user = await users.UpdateProfileAsync(http.User.UserId(), fullName, email, ct);
            signals.UserChanged(user.Id);
            return TypedResults.Json(user.ToDto(), ChatJson.Wire.UserDto);
        })
        .RequireAuthorization()
        .WithName("updateMe")
        .WithSummary("Change the caller's full name or email")
        .WithDescription("A field left out or null is unchanged; an empty string clears it.")
        .Accepts<UpdateProfileRequest>("application/json")
        .Produces<UserDto>()
        .ProducesProblem(400)
        .ProducesProblem(401)
        .ProducesProblem(413)
        .ProducesProblem(415);

        group.MapGet("/search", async (HttpContext http, IUserStore users, CancellationToken ct) =>
        {
            if (!http.Request.Query.TryGetValue("q", out var q))
                throw ChatException.BadRequest("Query parameter 'q' is required.");
            if (!Validation.IsWellFormed(q.ToString()))
                throw ChatException.BadRequest("Query parameter 'q' must be text without U+0000.");
            var limit = Query.Limit(http.Request, DefaultSearchLimit, MaxSearchLimit);
            var results = await users.SearchAsync(http.User.UserId(), q.ToString(), limit, ct);
            return TypedResults.Json(new SearchResponse(results.Select(u => u.ToDto()).ToList()), ChatJson.Wire.SearchResponse);
        })
        .RequireAuthorization()
        .WithName("searchUsers")
        .WithSummary("Search users by username, full name or email")
        .WithDescription("Matches, ignoring case (Unicode NFKC case folding), users whose username starts with `q`, whose full name or any word of it starts with `q`, or whose email equals `q`. The caller is left out; ordered by username.")
        .WithRequiredTextParameter("q", "The text to match. Required (missing is 400 `bad_request`); an empty `q` matches everyone, a page at a time.")
        .WithLimitParameter(DefaultSearchLimit, MaxSearchLimit)
        .Produces<SearchResponse>()
        .ProducesProblem(400)
        .ProducesProblem(401);

        group.MapPut("/me/avatar", async (HttpContext http, IUserStore users, ISessionSignals signals, IOptions<ChatOptions> options, CancellationToken ct) =>
        {
            var max = options.Value.MaxAvatarBytes;
            if (!MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var media) || media.MediaType is null
                || !ImageSignature.SupportedTypes.Contains(media.MediaType))
                throw new ChatException(415, ErrorCodes.UnsupportedMediaType, "Content-Type must be image/png, image/jpeg, image/gif or image/webp.");
            if (http.Request.ContentLength > max) throw TooLarge(max);
            var data = await ReadBoundedAsync(http.Request.Body, max, ct) ?? throw TooLarge(max);
            var type = media.MediaType.ToLowerInvariant();
            if (!ImageSignature.Matches(type, data))
                throw new ChatException(415, ErrorCodes.UnsupportedMediaType, $"The body is not a {type} image.");
            var user = await users.SetAvatarAsync(http.User.UserId(), type, data, ct);
            signals.UserChanged(user.Id);
            return TypedResults.Json(user.ToDto(), ChatJson.Wire.UserDto);
        })
        .RequireAuthorization()
        .WithName("uploadAvatar")
        .WithSummary("Upload the caller's avatar")
        .WithDescription("The raw image bytes as the body, at most `Chat:MaxAvatarBytes` (default 1 MiB, else 413 `too_large`). The bytes must really be the declared type (checked by signature, else 415 `unsupported_media_type`). `profile_picture` becomes `/api/users/{username}/avatar?v=N`, N changing with each upload.")
        // Accepts also drives routing's content-type check; the document's body comes from WithImageRequestBody.
        .Accepts<byte[]>("image/png", "image/jpeg", "image/gif", "image/webp")
        .WithImageRequestBody("The image, with its Content-Type.")
        .Produces<UserDto>()
        .ProducesProblem(401)
        .ProducesProblem(413)
        .ProducesProblem(415);

        group.MapDelete("/me/avatar", async (HttpContext http, IUserStore users, CancellationToken ct) =>
            TypedResults.Json((await users.DeleteAvatarAsync(http.User.UserId(), ct)).ToDto(), ChatJson.Wire.UserDto))
            .RequireAuthorization()
            .WithName("deleteAvatar")
            .WithSummary("Remove the caller's avatar")
            .Produces<UserDto>()
            .ProducesProblem(401);

        // No auth: <img src> cannot send a bearer token.
        group.MapGet("/{username}/avatar", async (string username, HttpContext http, IUserStore users, CancellationToken ct) =>
        {
            var avatar = await users.GetAvatarAsync(username, ct) ?? throw ChatException.NotFound("No avatar.");
            http.Response.Headers.XContentTypeOptions = "nosniff";
            http.Response.Headers.ContentSecurityPolicy = "default-src 'none'";
            http.Response.Headers.CacheControl = "public, max-age=300";
            http.Response.Headers.ETag = $"\"{avatar.Version}\"";
            return TypedResults.Bytes(avatar.Data, avatar.ContentType);
        })
        .WithName("getAvatar")
        .WithSummary("Download a user's avatar")
        .WithDescription("Needs no token, so `<img src>` works. Served with the stored content type, `X-Content-Type-Options: nosniff` and an ETag.")
        .WithImageResponse("The image bytes, with the stored content type.")
        .ProducesProblem(404);

        return app;
    }

    private static async Task<UserRow> Me(HttpContext http, IUserStore users, CancellationToken ct) =>
        await users.FindByIdAsync(http.User.UserId(), ct) ?? throw new ChatException(401, ErrorCodes.Unauthorized, "Unknown user.");

    private static ChatException TooLarge(int max) => new(413, ErrorCodes.TooLarge, $"Avatars are limited to {max} bytes.");

    /// <summary>Reads at most <paramref name="max"/> bytes; null when the body is longer.</summary>
    private static async Task<byte[]?> ReadBoundedAsync(Stream body, int max, CancellationToken ct)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > max) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
