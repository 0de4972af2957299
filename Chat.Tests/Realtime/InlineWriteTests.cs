using System.Collections.Concurrent;
using System.Net.WebSockets;
using Chat.Server.Realtime;
using Chat.Tests.Resilience;
using Microsoft.Extensions.Logging.Abstractions;

namespace Chat.Tests.Realtime;

/// <summary>
/// A frame for an idle socket is written by the thread that queued it (no pool thread woken per socket), yet a producer
/// is never held up by a peer that does not read, and never runs the socket's close inside its own call.
/// </summary>
public sealed class InlineWriteTests
{
    private static readonly OutboundFrame Frame = new("{\"type\":\"pong\"}"u8.ToArray());

    /// <summary>Runs the connection's loops; the writer is waiting for frames when this returns (empty preamble).</summary>
    private static (ChatConnection Connection, Task Run) Start(WebSocket socket)
    {
        var connection = new ChatConnection(socket, 1, "alice", 1,
            new Chat.Server.ChatOptions { CloseTimeout = TimeSpan.FromSeconds(5) }, NullLogger.Instance);
        var run = connection.RunAsync(Task.FromResult<IReadOnlyList<OutboundFrame>>([]), (_, _) => ValueTask.CompletedTask, CancellationToken.None);
        return (connection, run);
    }

    [Test]
    public async Task AFrameForAnIdleSocketIsWrittenBeforeSendReturnsOnTheProducersThread()
    {
        var socket = new RecordingSocket();
        var (connection, run) = Start(socket);

        Assert.That(connection.Send(Frame), Is.True);
        Assert.That(socket.Sends.ToArray(), Is.EqualTo(new[] { Environment.CurrentManagedThreadId }),
            "written inline by the producer, before Send returned");

        connection.Close(1000, "", drain: false);
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task APeerThatDoesNotReadDoesNotHoldUpTheProducer()
    {
        var socket = new GatedSocket();
        var (connection, run) = Start(socket);

        var producer = Task.Run(() => connection.Send(Frame) && connection.Send(Frame));
        Assert.That(await producer.WaitAsync(TimeSpan.FromSeconds(5)), Is.True, "both queued while the peer takes nothing");
        Assert.That((socket.Taken, connection.QueuedFrames), Is.EqualTo((0, 1)), "the first waits in the socket's write, the second in the queue");

        socket.Allow(2);
        await Deadline.WaitUntilAsync(() => socket.Taken == 2, TimeSpan.FromSeconds(5), "the writer to go on once the peer reads");
        socket.Abort();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Test]
    public async Task ACloseRequestedUnderTheProducersOwnLockSendsTheCloseFrameFromAnotherThread()
    {
        var socket = new RecordingSocket();
        var (connection, run) = Start(socket);
        var producerLock = new object();
        int producer;

        lock (producerLock)
        {
            producer = Environment.CurrentManagedThreadId;
            connection.Close(1000, "bye", drain: true);
            Assert.That(socket.CloseThread, Is.Zero, "the writer woke inline, but leaves the close to the pool");
        }
        await Deadline.WaitUntilAsync(() => socket.CloseThread != 0, TimeSpan.FromSeconds(5), "the close frame");
        Assert.That(socket.CloseThread, Is.Not.EqualTo(producer));
        socket.Abort();
        await run.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>A peer that takes every frame at once and records which thread wrote it; receiving waits until abort.</summary>
    private sealed class RecordingSocket : WebSocket
    {
        private readonly CancellationTokenSource _aborted = new();
        private int _closeThread;

        public ConcurrentQueue<int> Sends { get; } = new();
        public int CloseThread => Volatile.Read(ref _closeThread);

        public override WebSocketCloseStatus? CloseStatus => null;
        public override string? CloseStatusDescription => null;
        public override WebSocketState State => _aborted.IsCancellationRequested ? WebSocketState.Aborted : WebSocketState.Open;
        public override string? SubProtocol => null;

        public override void Abort() => _aborted.Cancel();
        public override void Dispose() => Abort();
        public override Task CloseAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken) => Task.CompletedTask;

        public override Task CloseOutputAsync(WebSocketCloseStatus closeStatus, string? statusDescription, CancellationToken cancellationToken)
        {
            Volatile.Write(ref _closeThread, Environment.CurrentManagedThreadId);
            return Task.CompletedTask;
        }

        public override Task SendAsync(ArraySegment<byte> buffer, WebSocketMessageType messageType, bool endOfMessage, CancellationToken cancellationToken)
        {
            Sends.Enqueue(Environment.CurrentManagedThreadId);
            return Task.CompletedTask;
        }

        public override async Task<WebSocketReceiveResult> ReceiveAsync(ArraySegment<byte> buffer, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, _aborted.Token);
            throw new InvalidOperationException("unreachable");
        }
    }
}
