using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Chat.Protocol;
using Chat.Tests.Http;
using Chat.Tests.Infrastructure;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Chat.Tests.OpenApi;

/// <summary>Exact assertions on the served <c>/openapi/v1.json</c>: what a generated client depends on.</summary>
public sealed partial class OpenApiDocumentTests
{
    private static readonly string[] Methods = ["get", "put", "post", "delete", "patch"];
    private ChatApp _app = null!;
    private JsonObject _document = null!;

    [OneTimeSetUp]
    public async Task FetchDocument()
    {
        _app = await ChatApp.StartAsync(Transport.TestHost, store: Store.Sqlite);
        using var client = _app.CreateClient();
        _document = (await (await client.GetAsync("/openapi/v1.json")).JsonAsync(200));
    }

    [OneTimeTearDown]
    public async Task StopServer() => await _app.DisposeAsync();

    private IEnumerable<(string Path, string Method, JsonObject Operation)> Operations() =>
        _document["paths"]!.AsObject().SelectMany(path => path.Value!.AsObject()
            .Where(op => Methods.Contains(op.Key))
            .Select(op => (path.Key, op.Key, op.Value!.AsObject())));

    private JsonObject Operation(string path, string method) => _document["paths"]![path]![method]!.AsObject();

    private JsonObject Parameter(string path, string method, string name) =>
        Operation(path, method)["parameters"]!.AsArray().Single(p => p!["name"]!.GetValue<string>() == name)!.AsObject();

    [GeneratedRegex("^[a-z][a-zA-Z]*$")]
    private static partial Regex CamelCase();

    [Test]
    public void EveryOperation_HasUniqueCamelCaseOperationIdAndSummaryAndDescribedTag()
    {
        var operations = Operations().ToList();
        Assert.That(operations, Has.Count.EqualTo(17), "13 API operations, /healthz, /healthz/live, /healthz/ready and /ws");
        var tags = _document["tags"]!.AsArray().ToDictionary(t => t!["name"]!.GetValue<string>(), t => t!["description"]?.GetValue<string>());
        foreach (var (path, method, op) in operations)
        {
            Assert.That(op["operationId"]?.GetValue<string>(), Does.Match(CamelCase()), $"{method} {path}");
            Assert.That(op["summary"]?.GetValue<string>(), Is.Not.Null.And.Not.Empty, $"{method} {path}");
            var tag = op["tags"]!.AsArray().Single()!.GetValue<string>();
            Assert.That(tags.GetValueOrDefault(tag), Is.Not.Null.And.Not.Empty, $"tag {tag} of {method} {path}");
        }
        Assert.That(operations.Select(o => o.Operation["operationId"]!.GetValue<string>()), Is.Unique);
        Assert.That(_document["info"]!["description"]!.GetValue<string>(), Does.Contain("protocol.md"));
    }

    [Test]
    public void ProtectedEndpoints_RequireBearer_AndOnlyTheContractsPublicOnesDoNot()
    {
        Assert.That(_document["components"]!["securitySchemes"]!["Bearer"]!["scheme"]!.GetValue<string>(), Is.EqualTo("bearer"));
        // Which endpoints are protected comes from the running server's own endpoints (RequireAuthorization).
        var protectedRoutes = _app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Where(e => e.Metadata.GetMetadata<IAuthorizeData>() is not null && e.Metadata.GetMetadata<IAllowAnonymous>() is null)
            .SelectMany(e => (e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? [])
                .Select(m => $"{m.ToLowerInvariant()} /{e.RoutePattern.RawText!.TrimStart('/').Replace(":long", "").TrimEnd('/')}"))
            .ToHashSet();
        Assert.That(protectedRoutes, Has.Count.EqualTo(10));

        var publicOperations = new List<string>();
        foreach (var (path, method, op) in Operations().Where(o => o.Path != "/ws"))
        {
            var security = op["security"]!.AsArray();
            var schemes = security.SelectMany(r => r!.AsObject().Select(kv => kv.Key)).ToList();
            if (protectedRoutes.Contains($"{method} {path}"))
            {
                Assert.That(schemes, Is.EqualTo(new[] { "Bearer" }), $"{method} {path}");
                Assert.That(op["responses"]!.AsObject().Select(r => r.Key), Does.Contain("401").And.Contain("503"), $"{method} {path}");
            }
            else
            {
                Assert.That(security.Single()!.AsObject(), Is.Empty, $"{method} {path} is public: security [{{}}]");
                publicOperations.Add($"{method} {path}");
            }
        }
        Assert.That(publicOperations, Is.EquivalentTo(new[]
        {
            "post /api/auth/register", "post /api/auth/login", "get /api/users/{username}/avatar", "get /healthz", "get /healthz/live", "get /healthz/ready",
        }));
        var ws = Operation("/ws", "get")["security"]!.AsArray().Select(r => r!.AsObject().Single().Key);
        Assert.That(ws, Is.EquivalentTo(new[] { "Bearer", "QueryToken" }));
    }

    [Test]
    public void QueryParameters_HaveTypeDefaultAndRange()
    {
        var q = Parameter("/api/users/search", "get", "q");
        Assert.That((q["required"]!.GetValue<bool>(), q["schema"]!["type"]!.GetValue<string>()), Is.EqualTo((true, "string")));
        AssertLimit(Parameter("/api/users/search", "get", "limit"), @default: 20, max: 50);
        AssertLimit(Parameter("/api/conversations", "get", "limit"), @default: 50, max: 200);
        AssertLimit(Parameter("/api/conversations/{id}/messages", "get", "limit"), @default: 50, max: 200);
        var before = Parameter("/api/conversations/{id}/messages", "get", "before");
        Assert.That(before["schema"]!["type"]!.GetValue<string>(), Is.EqualTo("integer"));
        Assert.That(before["schema"]!["format"]!.GetValue<string>(), Is.EqualTo("int64"));
        Assert.That(before["required"]?.GetValue<bool>() ?? false, Is.False);
    }

    private static void AssertLimit(JsonObject limit, int @default, int max)
    {
        var schema = limit["schema"]!;
        Assert.That(schema["type"]!.GetValue<string>(), Is.EqualTo("integer"));
        Assert.That(schema["default"]!.GetValue<int>(), Is.EqualTo(@default));
        Assert.That(schema["minimum"]!.GetValue<int>(), Is.EqualTo(1));
        Assert.That(schema["maximum"]!.GetValue<int>(), Is.EqualTo(max));
        Assert.That(limit["description"]!.GetValue<string>(), Does.Contain($"above {max} is treated as {max}").And.Contain("below 1 is 400"));
    }

    [Test]
    public void IdsAndCounts_AreInt64Integers_NeverStrings()
    {
        var checkedFields = 0;
        foreach (var (name, schema) in _document["components"]!["schemas"]!.AsObject())
        {
            foreach (var (property, value) in schema!["properties"]?.AsObject() ?? [])
            {
                if (!(property.EndsWith("_id", StringComparison.Ordinal) && property != "client_msg_id")
                    && property is not ("timestamp" or "created_at" or "unread_count")) continue;
                var types = value!["type"] is JsonArray array ? array.Select(t => t!.GetValue<string>()).ToList() : [value["type"]!.GetValue<string>()];
                Assert.That(types.Where(t => t != "null"), Is.EqualTo(new[] { "integer" }), $"{name}.{property}");
                Assert.That(value["format"]!.GetValue<string>(), Is.EqualTo("int64"), $"{name}.{property}");
                Assert.That(value["pattern"], Is.Null, $"{name}.{property}: no string pattern");
                checkedFields++;
            }
        }
        Assert.That(checkedFields, Is.EqualTo(13), "ids, counts and times of ConversationDto, MarkReadRequest/Response, MessageDto, SendMessageResponse");
        var messageId = _document["components"]!["schemas"]!["SendMessageResponse"]!["properties"]!["message_id"]!;
        Assert.That(messageId["type"]!.GetValue<string>(), Is.EqualTo("integer"));
        var pathId = Parameter("/api/conversations/{id}/messages", "get", "id")["schema"]!;
        Assert.That((pathId["type"]!.GetValue<string>(), pathId["format"]!.GetValue<string>()), Is.EqualTo(("integer", "int64")));
    }

    [Test]
    public void ProblemDetails_RequiresStatusTitleDetailCode_WithTheContractsCodes()
    {
        var problem = _document["components"]!["schemas"]!["ProblemDetails"]!;
        Assert.That(problem["required"]!.AsArray().Select(r => r!.GetValue<string>()), Is.EquivalentTo(new[] { "status", "title", "detail", "code" }));
        Assert.That(problem["properties"]!["status"]!["type"]!.GetValue<string>(), Is.EqualTo("integer"));
        var codes = problem["properties"]!["code"]!["enum"]!.AsArray().Select(c => c!.GetValue<string>());
        Assert.That(codes, Is.EquivalentTo(new[]
        {
            ErrorCodes.BadRequest, ErrorCodes.Unauthorized, ErrorCodes.InvalidCredentials, ErrorCodes.UsernameTaken, ErrorCodes.UnknownUser,
            ErrorCodes.InvalidReceiver, ErrorCodes.EmptyMessage, ErrorCodes.MessageTooLong, ErrorCodes.NotFound, ErrorCodes.TooLarge,
            ErrorCodes.UnsupportedMediaType, ErrorCodes.RateLimited, ErrorCodes.Internal, ErrorCodes.OriginNotAllowed,
        }));
    }

    [TestCase("/api/auth/register", "post", new[] { "201", "400", "409", "413", "415", "500" })]
    [TestCase("/api/auth/login", "post", new[] { "200", "400", "401", "413", "415", "429", "500" })]
    [TestCase("/api/messages", "post", new[] { "201", "400", "401", "404", "413", "415", "429", "500", "503" })]
    [TestCase("/api/users/me/avatar", "put", new[] { "200", "401", "413", "415", "500", "503" })]
    [TestCase("/api/users/{username}/avatar", "get", new[] { "200", "404", "500" })]
    [TestCase("/api/users/search", "get", new[] { "200", "400", "401", "500", "503" })]
    [TestCase("/api/conversations/{id}/messages", "get", new[] { "200", "400", "401", "404", "500", "503" })]
    [TestCase("/ws", "get", new[] { "101", "400", "401", "403", "503" })]
    [TestCase("/healthz", "get", new[] { "200", "503" })]
    [TestCase("/healthz/live", "get", new[] { "200", "503" })]
    [TestCase("/healthz/ready", "get", new[] { "200", "503" })]
    public void Responses_AreTheOnesTheEndpointReallyGives(string path, string method, string[] statuses)
    {
        var responses = Operation(path, method)["responses"]!.AsObject();
        Assert.That(responses.Select(r => r.Key), Is.EquivalentTo(statuses));
        foreach (var (status, response) in responses.Where(r => r.Key[0] is '4' or '5'))
            Assert.That(response!["content"]!["application/problem+json"]!["schema"]!["$ref"]!.GetValue<string>(),
                Is.EqualTo("#/components/schemas/ProblemDetails"), $"{method} {path} {status}");
        if (responses.ContainsKey("429"))
            Assert.That(responses["429"]!["headers"]!["Retry-After"], Is.Not.Null, $"{method} {path} 429");
    }

    [Test]
    public void AvatarBodies_AreBinaryImages_AndHealthHasASchema()
    {
        foreach (var content in new[]
        {
            Operation("/api/users/me/avatar", "put")["requestBody"]!["content"]!.AsObject(),
            Operation("/api/users/{username}/avatar", "get")["responses"]!["200"]!["content"]!.AsObject(),
        })
        {
            Assert.That(content.Select(c => c.Key), Is.EquivalentTo(new[] { "image/png", "image/jpeg", "image/gif", "image/webp" }));
            Assert.That(content.Select(c => c.Value!["schema"]!["format"]!.GetValue<string>()), Is.All.EqualTo("binary"));
        }
        foreach (var path in new[] { "/healthz", "/healthz/live", "/healthz/ready" })
        {
            var health = Operation(path, "get")["responses"]!["200"]!["content"]!["application/json"]!["schema"]!;
            Assert.That(health["properties"]!["status"]!["enum"]!.AsArray().Select(v => v!.GetValue<string>()), Is.EquivalentTo(new[] { "healthy", "degraded" }), path);
        }
    }
}
