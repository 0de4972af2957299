using Microsoft.Extensions.Options;

namespace Chat.Server.Realtime;

/// <summary>
/// The bytes queued for all sockets of this server together (a payload shared by several sockets counts once per
/// socket), against <see cref="ChatOptions.MaxOutboundBytes"/>. While the total is over it, a socket whose own queue
/// is past its bound is closed at once instead of after <see cref="ChatOptions.SlowConsumerTimeout"/>: however many
/// clients stop reading, what waits for them stays within this budget plus one bound per socket.
/// </summary>
public sealed class OutboundBudget(IOptions<ChatOptions> options)
{
    private readonly long _limit = options.Value.MaxOutboundBytes;
    private long _total;

    /// <summary>Bytes queued for all sockets now.</summary>
    public long TotalBytes => Interlocked.Read(ref _total);

    /// <summary>True while the total is above <see cref="ChatOptions.MaxOutboundBytes"/>.</summary>
    public bool IsExceeded => Interlocked.Read(ref _total) > _limit;

    internal void Add(long bytes) => Interlocked.Add(ref _total, bytes);

    internal void Remove(long bytes) => Interlocked.Add(ref _total, -bytes);
}
