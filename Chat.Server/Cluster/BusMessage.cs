using System.Buffers.Binary;
using System.Text;
using Chat.Server.Realtime;

namespace Chat.Server.Cluster;

/// <summary>What one node tells the others on the backplane's bus channel.</summary>
public enum BusKind : byte
{
    /// <summary>A committed batch's frames to users (<see cref="StreamBatch"/>, less the replies, which stay on their node).</summary>
    Batch = 1,
    /// <summary>A frame outside the stream (<c>typing</c>) to every socket of a user.</summary>
    UserFrame = 2,
    /// <summary>A token was revoked (logout): close its sockets.</summary>
    TokenRevoked = 3,
    /// <summary>A user's profile changed: drop the cached row.</summary>
    UserChanged = 4,
    /// <summary>A user's sockets changed on some node: work out the user's presence again.</summary>
    PresenceChanged = 5,
}

/// <summary>
/// A decoded bus message. Frames travel as the bytes the publishing node serialized (never serialized again).
/// </summary>
public sealed record BusMessage(BusKind Kind, Guid Origin)
{
    public StreamBatch? Batch { get; init; }
    public long UserId { get; init; }
    public long TokenId { get; init; }
    public string Username { get; init; } = "";
    public OutboundFrame Frame { get; init; }
}

/// <summary>
/// The bus's wire format, little-endian: kind (1 byte), origin node id (16 bytes), then per kind —
/// <c>Batch</c>: position before and after (8 + 8), frame count (4), each frame as user id (8), stored message id (8),
/// ephemeral flag (1), length (4) and its UTF-8 JSON bytes; <c>UserFrame</c>: user id and one frame as above;
/// <c>TokenRevoked</c>: user id, token id; <c>UserChanged</c>: user id; <c>PresenceChanged</c>: user id, username
/// length (4) and UTF-8 bytes. A message that does not parse throws <see cref="FormatException"/>.
/// </summary>
public static class BusCodec
{
    private const int HeaderBytes = 1 + 16;

    public static byte[] Batch(Guid origin, StreamBatch batch)
    {
        var size = HeaderBytes + 8 + 8 + 4;
        var count = 0;
        foreach (var f in batch.Frames)
        {
            if (f.ReplyTo is not null) continue;
            size += 8 + 8 + 1 + 4 + f.Frame.Payload.Length;
            count++;
        }
        var buffer = new byte[size];
        var w = new Writer(buffer, BusKind.Batch, origin);
        w.Int64(batch.PositionBefore);
        w.Int64(batch.PositionAfter);
        w.Int32(count);
        foreach (var f in batch.Frames)
            if (f.ReplyTo is null) w.Frame(f.UserId, f.Frame);
        return buffer;
    }

    public static byte[] UserFrame(Guid origin, long userId, OutboundFrame frame)
    {
        var buffer = new byte[HeaderBytes + 8 + 8 + 1 + 4 + frame.Payload.Length];
        new Writer(buffer, BusKind.UserFrame, origin).Frame(userId, frame);
        return buffer;
    }

    public static byte[] TokenRevoked(Guid origin, long userId, long tokenId)
    {
        var buffer = new byte[HeaderBytes + 16];
        var w = new Writer(buffer, BusKind.TokenRevoked, origin);
        w.Int64(userId);
        w.Int64(tokenId);
        return buffer;
    }

    public static byte[] UserChanged(Guid origin, long userId)
    {
        var buffer = new byte[HeaderBytes + 8];
        new Writer(buffer, BusKind.UserChanged, origin).Int64(userId);
        return buffer;
    }

    public static byte[] PresenceChanged(Guid origin, long userId, string username)
    {
        var name = Encoding.UTF8.GetBytes(username);
        var buffer = new byte[HeaderBytes + 8 + 4 + name.Length];
        var w = new Writer(buffer, BusKind.PresenceChanged, origin);
        w.Int64(userId);
        w.Int32(name.Length);
        w.Bytes(name);
        return buffer;
    }

    /// <summary>Parses a bus message; throws <see cref="FormatException"/> when it is not one.</summary>
    public static BusMessage Decode(ReadOnlySpan<byte> data)
    {
        var r = new Reader(data);
        var kind = (BusKind)r.Byte();
        var origin = new Guid(r.Take(16));
        switch (kind)
        {
            case BusKind.Batch:
                var batch = new StreamBatch(r.Int64(), r.Int64());
                var count = r.Int32();
                if (count < 0) throw new FormatException("Negative frame count.");
                for (var i = 0; i < count; i++)
                {
                    var (user, frame) = r.Frame();
                    batch.ToUser(user, frame);
                }
                r.End();
                return new BusMessage(kind, origin) { Batch = batch };
            case BusKind.UserFrame:
                var (userId, single) = r.Frame();
                r.End();
                return new BusMessage(kind, origin) { UserId = userId, Frame = single };
            case BusKind.TokenRevoked:
                var message = new BusMessage(kind, origin) { UserId = r.Int64(), TokenId = r.Int64() };
                r.End();
                return message;
            case BusKind.UserChanged:
                var changed = new BusMessage(kind, origin) { UserId = r.Int64() };
                r.End();
                return changed;
            case BusKind.PresenceChanged:
                var id = r.Int64();
                var length = r.Int32();
                if (length < 0) throw new FormatException("Negative length.");
                var username = Encoding.UTF8.GetString(r.Take(length));
                r.End();
                return new BusMessage(kind, origin) { UserId = id, Username = username };
            default:
                throw new FormatException($"Unknown bus message kind {(byte)kind}.");
        }
    }

    private ref struct Writer
    {
        private readonly Span<byte> _buffer;
        private int _at;

        public Writer(Span<byte> buffer, BusKind kind, Guid origin)
        {
            _buffer = buffer;
            _buffer[0] = (byte)kind;
            origin.TryWriteBytes(_buffer[1..]);
            _at = HeaderBytes;
        }

        public void Int64(long value)
        {
            BinaryPrimitives.WriteInt64LittleEndian(_buffer[_at..], value);
            _at += 8;
        }

        public void Int32(int value)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_buffer[_at..], value);
            _at += 4;
        }

        public void Bytes(ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_buffer[_at..]);
            _at += bytes.Length;
        }

        public void Frame(long userId, OutboundFrame frame)
        {
            Int64(userId);
            Int64(frame.StoredMessageId);
            _buffer[_at++] = frame.Ephemeral ? (byte)1 : (byte)0;
            Int32(frame.Payload.Length);
            Bytes(frame.Payload);
        }
    }

    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _at;

        public ReadOnlySpan<byte> Take(int count)
        {
            if (count > _data.Length - _at) throw new FormatException("Truncated bus message.");
            var span = _data.Slice(_at, count);
            _at += count;
            return span;
        }

        public byte Byte() => Take(1)[0];
        public long Int64() => BinaryPrimitives.ReadInt64LittleEndian(Take(8));
        public int Int32() => BinaryPrimitives.ReadInt32LittleEndian(Take(4));

        public (long UserId, OutboundFrame Frame) Frame()
        {
            var userId = Int64();
            var stored = Int64();
            var ephemeral = Byte() != 0;
            var length = Int32();
            if (length < 0) throw new FormatException("Negative length.");
            return (userId, new OutboundFrame(Take(length).ToArray(), ephemeral, stored));
        }

        public void End()
        {
            if (_at != _data.Length) throw new FormatException("Trailing bytes in bus message.");
        }
    }
}
