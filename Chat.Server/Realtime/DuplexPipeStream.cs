using System.Buffers;
using System.IO.Pipelines;

namespace Chat.Server.Realtime;

/// <summary>
/// A connection's transport pipes as the <see cref="Stream"/> <c>WebSocket.CreateFromStream</c> wants. A
/// zero-byte read waits for data without consuming it, which is how an idle socket holds no receive buffer.
/// Disposing it (the WebSocket does so on Dispose and on Abort, e.g. a keep-alive timeout) releases a read or flush
/// that is waiting on the peer, but does not reset the connection: bytes already written (a close frame) must still
/// reach the peer. <see cref="WebSocketFastPath"/> ends the connection afterwards, aborting it after a bounded wait.
/// </summary>
internal sealed class DuplexPipeStream(IDuplexPipe transport) : Stream
{
    private readonly PipeReader _input = transport.Input;
    private readonly PipeWriter _output = transport.Output;
    private int _disposed;

    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;

    public override async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var result = await _input.ReadAsync(ct);
        if (result.IsCanceled) throw new OperationCanceledException("The connection was aborted.");
        var buffer = result.Buffer;
        if (destination.IsEmpty || buffer.IsEmpty)
        {
            // Data is there (or the peer is gone): say so without taking any of it.
            _input.AdvanceTo(buffer.Start);
            return 0;
        }
        var count = (int)Math.Min(buffer.Length, destination.Length);
        buffer.Slice(0, count).CopyTo(destination.Span);
        _input.AdvanceTo(buffer.GetPosition(count));
        return count;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> source, CancellationToken ct = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if ((await _output.WriteAsync(source, ct)).IsCanceled) throw new OperationCanceledException("The connection was aborted.");
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
        WriteAsync(buffer.AsMemory(offset, count), ct).AsTask();

    public override async Task FlushAsync(CancellationToken ct)
    {
        if ((await _output.FlushAsync(ct)).IsCanceled) throw new OperationCanceledException("The connection was aborted.");
    }

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _input.CancelPendingRead();
        _output.CancelPendingFlush();
        base.Dispose(disposing);
    }

    public override void Flush() => FlushAsync(CancellationToken.None).GetAwaiter().GetResult();
    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
