using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Chat.Tests.Http;
using Chat.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Identity;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chat.Tests.Infrastructure;

public enum Transport
{
    /// <summary>In-memory ASP.NET TestHost.</summary>
    TestHost,
    /// <summary>Real Kestrel on 127.0.0.1 with real TCP sockets.</summary>
    Kestrel,
}

/// <summary>
/// One server per test, on its own SQLite file or PostgreSQL schema (the fixture's store, <see cref="BothStoresAttribute"/>),
/// over TestHost or real Kestrel. Settings are overridable per test
/// (the way TodoApi's TodoApplication shrinks limits). Disposing stops the server; the database file stays
/// until <see cref="DeleteDatabase"/> so restart tests can reopen it.
/// </summary>
public sealed class ChatApp : IAsyncDisposable
{
    private WebApplication? _app;

    private ChatApp(Transport transport, Store store, string databasePath, IDictionary<string, string?> settings)
    {
        Transport = transport;
        Store = store;
        DatabasePath = databasePath;
        Settings = settings;
    }

    private Action<IServiceCollection>? _services;
    public Transport Transport { get; }
    public Store Store { get; }

    /// <summary>The SQLite file, or on PostgreSQL the Npgsql connection string of this server's schema.</summary>
    public string DatabasePath { get; }
    public IDictionary<string, string?> Settings { get; }
    public Uri BaseAddress { get; private set; } = null!;
    public WebApplication App => _app ?? throw new InvalidOperationException("Not started.");
    public IServiceProvider Services => App.Services;

    public static string NewDatabasePath() =>
        Path.Combine(Path.GetTempPath(), "chat-tests", $"{Guid.NewGuid():N}.db");

    /// <summary>
    /// A new, empty database of <paramref name="store"/>, named as servers take it: an SQLite file path, or the Npgsql
    /// connection string of a fresh PostgreSQL schema (<see cref="PostgresServer.CreateDatabaseAsync"/>).
    /// </summary>
    public static async Task<string> NewDatabaseAsync(Store store) =>
        store == Store.Postgres ? await PostgresServer.CreateDatabaseAsync() : NewDatabasePath();

    /// <summary>True when <paramref name="database"/> names a PostgreSQL schema (an Npgsql connection string), not a file.</summary>
    public static bool IsPostgres(string database) => database.StartsWith("Host=", StringComparison.Ordinal);

    /// <summary>A direct connection to a database (<see cref="NewDatabaseAsync"/>), to check what a server stored.</summary>
    public static System.Data.Common.DbConnection OpenDatabase(string database)
    {
        System.Data.Common.DbConnection connection = IsPostgres(database)
            ? new Npgsql.NpgsqlConnection(new Npgsql.NpgsqlConnectionStringBuilder(database) { Pooling = false }.ToString())
            : new Microsoft.Data.Sqlite.SqliteConnection(new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = database, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }

    /// <summary>Deletes a database (<see cref="NewDatabaseAsync"/>): the file with its WAL, or the PostgreSQL schema.</summary>
    public static void DeleteDatabase(string database)
    {
        if (IsPostgres(database))
        {
            PostgresServer.DropDatabaseAsync(database).GetAwaiter().GetResult();
            return;
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            try { File.Delete(database + suffix); } catch (IOException) { }
        }
    }

    /// <param name="services">Replaces server services (fault injection); applied after the server's own registrations.</param>
    /// <param name="store">The store; by default the running fixture's (<see cref="BothStoresAttribute.Current"/>).</param>
    public static async Task<ChatApp> StartAsync(Transport transport = Transport.TestHost, IDictionary<string, string?>? settings = null, string? databasePath = null,
        Action<IServiceCollection>? services = null, Store? store = null)
    {
        var chosen = store ?? BothStoresAttribute.Current;
        databasePath ??= await NewDatabaseAsync(chosen);
        var app = new ChatApp(transport, chosen, databasePath, settings ?? new Dictionary<string, string?>()) { _services = services };
        await app.StartServerAsync();
        return app;
    }

    /// <summary>Starts a fresh server process-in-process on the same database file (restart).</summary>
    public async Task<ChatApp> RestartAsync()
    {
        await StopAsync();
        var next = new ChatApp(Transport, Store, DatabasePath, Settings) { _services = _services };
        await next.StartServerAsync();
        return next;
    }

    private async Task StartServerAsync()
    {
        var args = new List<string>();
        if (Store == Store.Postgres)
        {
            args.Add("--Chat:Database:Provider=Postgres");
            args.Add($"--ConnectionStrings:Chat={DatabasePath}");
        }
        else
        {
            Directory.CreateDirectory(Path.GetDirectoryName(DatabasePath)!);
            args.Add($"--ConnectionStrings:Chat=Data Source={DatabasePath}");
        }
        // Generous defaults so unrelated tests do not trip the rate limit; rate-limit tests set their own.
        var merged = new Dictionary<string, string?>
        {
            ["Chat:RateLimit:MessagesPerSecond"] = "0",
            ["Chat:CloseTimeout"] = "00:00:02",
        };
        foreach (var (k, v) in Settings) merged[k] = v;
        foreach (var (k, v) in merged) args.Add($"--{k}={v}");

        _app = ChatHost.Build(args.ToArray(), builder =>
        {
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            // Keep PBKDF2, but cheaper, so tests can register many users quickly.
            builder.Services.Configure<PasswordHasherOptions>(o => o.IterationCount = 1000);
            _services?.Invoke(builder.Services);
            if (Transport == Transport.TestHost) builder.WebHost.UseTestServer();
            // A test may listen on more addresses (setting "urls"); the first is the one tests talk to.
            else builder.WebHost.UseUrls(Settings.TryGetValue("urls", out var urls) && urls is not null ? urls : "http://127.0.0.1:0");
        });
        await _app.StartAsync();
        BaseAddress = Transport == Transport.TestHost
            ? new Uri("http://localhost/")
            : new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/");
    }

    public HttpClient CreateClient(string? token = null)
    {
        var client = Transport == Transport.TestHost
            ? App.GetTestServer().CreateClient()
            : new HttpClient { BaseAddress = BaseAddress };
        client.Timeout = TimeSpan.FromSeconds(30);
        if (token is not null) client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    /// <summary>Registers a user and returns its token.</summary>
    public async Task<TestUser> RegisterAsync(string username, string? fullName = null, string? email = null, string password = "password123")
    {
        using var client = CreateClient();
        return new TestUser(this, username, await client.RegisterAsync(username, fullName, email, password), password);
    }

    /// <summary>Opens a WebSocket with a bearer header (or, with <paramref name="viaQuery"/>, <c>?token=</c>).</summary>
    public async Task<ChatSocket> ConnectAsync(string token, bool viaQuery = false)
    {
        var path = viaQuery ? $"ws?token={Uri.EscapeDataString(token)}" : "ws";
        WebSocket socket;
        if (Transport == Transport.TestHost)
        {
            var client = App.GetTestServer().CreateWebSocketClient();
            if (!viaQuery) client.ConfigureRequest = r => r.Headers.Authorization = $"Bearer {token}";
            socket = await client.ConnectAsync(new Uri(BaseAddress, path.Replace("http", "ws")), CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
        }
        else
        {
            var client = new ClientWebSocket();
            if (!viaQuery) client.Options.SetRequestHeader("Authorization", $"Bearer {token}");
            var uri = new UriBuilder(new Uri(BaseAddress, path)) { Scheme = "ws" }.Uri;
            await client.ConnectAsync(uri, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(10));
            socket = client;
        }
        return new ChatSocket(socket);
    }

    public async Task StopAsync()
    {
        if (_app is null) return;
        await _app.StopAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await _app.DisposeAsync();
        _app = null;
    }

    /// <summary>A direct connection to this server's database (its SQLite file or PostgreSQL schema), to check what is stored.</summary>
    public System.Data.Common.DbConnection OpenDatabase() => OpenDatabase(DatabasePath);

    public void DeleteDatabase() => DeleteDatabase(DatabasePath);

    /// <summary>
    /// The server's read side on its own database, with the stream position pinned at <paramref name="durableUpTo"/> (a
    /// message id; <see cref="long.MaxValue"/> shows everything committed) instead of the server's live one.
    /// </summary>
    public Chat.Server.Storage.MessageStore MessageStoreAt(long durableUpTo)
    {
        var position = new Chat.Server.Storage.StreamPosition();
        position.Advance(durableUpTo);
        return new Chat.Server.Storage.MessageStore(Services.GetRequiredService<Chat.Server.Storage.IChatDatabase>(), position);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        DeleteDatabase();
    }
}

/// <summary>A registered user and a few calls as that user.</summary>
public sealed record TestUser(ChatApp App, string Username, string Token, string Password)
{
    public HttpClient Client() => App.CreateClient(Token);

    public Task<ChatSocket> ConnectAsync(bool viaQuery = false) => App.ConnectAsync(Token, viaQuery);

    /// <summary>POST /api/messages; asserts 201 and returns the body.</summary>
    public async Task<JsonObject> SendAsync(string receiver, string message, string? clientMsgId = null)
    {
        using var client = Client();
        var body = new JsonObject { ["receiver"] = receiver, ["message"] = message };
        if (clientMsgId is not null) body["client_msg_id"] = clientMsgId;
        var response = await client.PostAsJsonAsync("/api/messages", body);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(201), json?.ToJsonString());
        return json!;
    }

    public async Task<JsonObject> GetAsync(string path)
    {
        using var client = Client();
        var response = await client.GetAsync(path);
        var json = await response.Content.ReadFromJsonAsync<JsonObject>();
        Assert.That((int)response.StatusCode, Is.EqualTo(200), json?.ToJsonString());
        return json!;
    }
}
