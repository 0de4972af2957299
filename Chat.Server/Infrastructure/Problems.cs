using Chat.Protocol;
using Microsoft.AspNetCore.Mvc;

namespace Chat.Server.Infrastructure;

/// <summary>Writes RFC 9457 problem details carrying the contract's <c>code</c> member.</summary>
internal static class Problems
{
    public static IResult From(ChatException ex) => Create(ex.Status, ex.Code, ex.Message);

    public static IResult Create(int status, string code, string detail) =>
        TypedResults.Problem(new ProblemDetails
        {
            Status = status,
            Title = TitleFor(status),
            Detail = detail,
            Extensions = { ["code"] = code },
        });

    public static string CodeForStatus(int status) => status switch
    {
        401 => ErrorCodes.Unauthorized,
        404 => ErrorCodes.NotFound,
        413 => ErrorCodes.TooLarge,
        415 => ErrorCodes.UnsupportedMediaType,
        429 => ErrorCodes.RateLimited,
        >= 500 => ErrorCodes.Internal,
        _ => ErrorCodes.BadRequest,
    };

    public static string TitleFor(int status) => status switch
    {
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => status >= 500 ? "Internal Server Error" : "Error",
    };
}
