using Chat.Protocol;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace Chat.Server.Infrastructure;

/// <summary>Turns every failure into problem details with a <c>code</c>, so clients can always branch on it.</summary>
internal static partial class ErrorHandling
{
    public static IServiceCollection AddChatProblemDetails(this IServiceCollection services)
    {
        services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var status = ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode;
            ctx.ProblemDetails.Extensions.TryAdd("code", Problems.CodeForStatus(status));
            ctx.ProblemDetails.Title ??= Problems.TitleFor(status);
            ctx.ProblemDetails.Detail ??= ctx.ProblemDetails.Title;
        });
        services.AddExceptionHandler<ChatExceptionHandler>();
        return services;
    }

    public static IApplicationBuilder UseChatErrors(this IApplicationBuilder app)
    {
        app.UseExceptionHandler();
        // Empty 4xx answers from routing (unknown path, wrong method) become problem details too.
        app.UseStatusCodePages();
        return app;
    }

    private sealed partial class ChatExceptionHandler(IProblemDetailsService problems, ILogger<ChatExceptionHandler> logger) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
        {
            var (status, code, detail) = exception switch
            {
                ChatException e => (e.Status, e.Code, e.Message),
                BadHttpRequestException e => (e.StatusCode, Problems.CodeForStatus(e.StatusCode), e.StatusCode == 413 ? "Request body too large." : "Malformed request."),
                _ => (500, ErrorCodes.Internal, "The server could not complete the request; nothing was stored."),
            };
            if (status >= 500) LogUnhandled(logger, exception, http.Request.Path);
            if (exception is ChatException { RetryAfter: { } retry })
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retry.TotalSeconds)).ToString();
            http.Response.StatusCode = status;
            // The status-code-pages middleware must not replace the body we write here.
            http.Features.Get<IStatusCodePagesFeature>()?.Enabled = false;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = http,
                Exception = exception,
                ProblemDetails =
                {
                    Status = status,
                    Title = Problems.TitleFor(status),
                    Detail = detail,
                    Extensions = { ["code"] = code },
                },
            });
        }

        [LoggerMessage(EventId = Observability.ChatEventIds.UnhandledError, EventName = "UnhandledError", Level = LogLevel.Error, Message = "Unhandled error on {Path}")]
        private static partial void LogUnhandled(ILogger logger, Exception ex, string path);
    }
}
