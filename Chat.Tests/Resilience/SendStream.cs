using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Chat.Tests.Infrastructure;
using Microsoft.Data.Sqlite;

namespace Chat.Tests.Resilience;

/// <summary>
/// Streams <c>send_message</c> frames (client_msg_id <c>s{n}</c>) over one socket with a window of unanswered
/// sends, and records every ack and error as it arrives, until the socket ends, the stream is stopped or, when a
/// <c>count</c> is given, that many were sent (optionally a <c>pause</c> apart, for a steady stream instead of a flood).
/// </summary>
internal sealed class SendStream
{
    private readonly ChatSocket _socket;
    private readonly string _receiver;
    private readonly SemaphoreSlim _window;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int? _count;
    private readonly TimeSpan _pause;
    private int _sent;

    public SendStream(ChatSocket socket, string receiver, int window = 64, int? count = null, TimeSpan? pause = null)
    {
        _socket = socket;
        _receiver = receiver;
        _window = new SemaphoreSlim(window, window);
        _count = count;
        _pause = pause ?? TimeSpan.Zero;
    }

    /// <summary>Completes when the writer stopped sending (all <c>count</c> sent, stopped, or the socket went away).</summary>
    public Task Written => Writer;

    /// <summary>client_msg_id to message_id for every ack received.</summary>
    public ConcurrentDictionary<string, long> Acked { get; } = new();

    /// <summary>Every ack in arrival order (client_msg_id, message_id), to catch a send acknowledged twice.</summary>
    public ConcurrentQueue<(string ClientMsgId, long MessageId)> Acks { get; } = new();

    /// <summary>client_msg_id to error code for every error frame received.</summary>
    public ConcurrentDictionary<string, string> Errors { get; } = new();

    public int Sent => Volatile.Read(ref _sent);

    /// <summary>The close status the server sent, once the socket ended (null: dropped without a close frame).</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public Task Ended => _ended.Task;

    public Task Reader { get; private set; } = Task.CompletedTask;
    public Task Writer { get; private set; } = Task.CompletedTask;

    public void Start()
    {
        Reader = Task.Run(ReadLoopAsync);
        Writer = Task.Run(WriteLoopAsync);
    }

    public void Stop() => _stop.Cancel();

    private async Task WriteLoopAsync()
    {
        try
        {
            for (var n = 0; !_stop.IsCancellationRequested && (_count is null || n < _count); n++)
            {
                if (n > 0 && _pause > TimeSpan.Zero) await Task.Delay(_pause, _stop.Token);
                await _window.WaitAsync(_stop.Token);
                var frame = new JsonObject
                {
                    ["type"] = "send_message",
                    ["receiver"] = _receiver,
                    ["message"] = $"stream message {n} " + new string('x', 100),
                    ["client_msg_id"] = $"s{n}",
                };
                Interlocked.Increment(ref _sent);
                await _socket.SendAsync(frame);
            }
        }
        catch (Exception)
        {
            // The socket went away (killed, closed) or the stream was stopped: the last send may or may not have left.
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                JsonObject frame;
                try
                {
                    frame = await _socket.NextAsync(TimeSpan.FromSeconds(60));
                }
                catch (InvalidOperationException)
                {
                    break; // closed
                }
                switch (frame.Type())
                {
                    case "ack":
                        var id = frame["client_msg_id"]!.GetValue<string>();
                        Acked[id] = frame.Long("message_id");
                        Acks.Enqueue((id, frame.Long("message_id")));
                        _window.Release();
                        break;
                    case "error":
                        Errors[frame["client_msg_id"]?.GetValue<string>() ?? ""] = frame.Str("code");
                        _window.Release();
                        break;
                }
            }
        }
        catch (TimeoutException)
        {
            // Nothing for a minute: the caller's deadline reports it.
        }
        finally
        {
            CloseStatus = await _socket.Closed.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null);
            _stop.Cancel();
            _ended.TrySetResult();
        }
    }

    /// <summary>Waits until at least <paramref name="count"/> acks arrived, failing with a clear message at the deadline.</summary>
    public async Task WaitForAcksAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Acked.Count < count)
        {
            if (Ended.IsCompleted)
                Assert.Fail($"The socket ended after {Acked.Count} acks, before {count} (close: {CloseStatus}, errors: {string.Join(",", Errors.Values.Distinct())}).");
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"Only {Acked.Count} of {count} acks arrived within {timeout.TotalSeconds}s ({Sent} sent).");
            await Task.Delay(20);
        }
    }
}

/// <summary>
/// Reads a server's database directly, as an outside check of what was stored: an SQLite file path, or a PostgreSQL
/// connection string (<see cref="ChatApp.NewDatabaseAsync"/>).
/// </summary>
internal static class StoredMessages
{
    public static SqliteConnection Open(string databasePath, bool readOnly = true) =>
        OpenConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite, Pooling = false }.ToString());

    private static SqliteConnection OpenConnection(string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        return connection;
    }

    /// <summary>message id to client_msg_id (null when none) of every stored message.</summary>
    public static Dictionary<long, string?> All(string databasePath)
    {
        using var connection = ChatApp.OpenDatabase(databasePath);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT id, client_msg_id FROM messages";
        using var reader = command.ExecuteReader();
        var result = new Dictionary<long, string?>();
        while (reader.Read()) result[reader.GetInt64(0)] = reader.IsDBNull(1) ? null : reader.GetString(1);
        return result;
    }

    public static string IntegrityCheck(string databasePath)
    {
        using var connection = Open(databasePath);
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check";
        using var reader = command.ExecuteReader();
        var lines = new List<string>();
        while (reader.Read()) lines.Add(reader.GetString(0));
        return string.Join("\n", lines);
    }
}

/// <summary>Polls a condition until a deadline, failing with what was awaited.</summary>
internal static class Deadline
{
    public static Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, string what) =>
        WaitUntilAsync(() => Task.FromResult(condition()), timeout, what);

    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out after {timeout.TotalSeconds}s waiting for {what}.");
            await Task.Delay(50);
        }
    }
}
