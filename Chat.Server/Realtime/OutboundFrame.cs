using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Chat.Protocol;

namespace Chat.Server.Realtime;

/// <summary>
/// One serialized frame. The same immutable bytes are shared by every socket it goes to.
/// Ephemeral frames (typing, presence) are the first shed when a socket falls behind. <paramref name="StoredMessageId"/>
/// is the message id of a stored-message frame (<c>chat_message</c>, <c>message_sent</c>, <c>conversation_refresh</c>,
/// the frames a <c>sync</c> replays), 0 for every other frame: a live one a replay already covered is dropped.
/// </summary>
public readonly record struct OutboundFrame(byte[] Payload, bool Ephemeral = false, long StoredMessageId = 0)
{
    /// <summary>The frame's <c>type</c> as a number (<see cref="ServerFrameTypes"/>), read once here: the metrics count frames by it.</summary>
    public byte Type { get; } = ServerFrameTypes.Of(Payload);

    private const int KeptBufferBytes = 64 * 1024;

    /// <summary>Raw UTF-8: only what JSON requires is escaped (<see cref="RawUtf8JsonEncoder"/>).</summary>
    internal static readonly JsonWriterOptions WriterOptions = new() { Encoder = RawUtf8JsonEncoder.Instance, SkipValidation = true };

    [ThreadStatic] private static ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;

    /// <summary>Serializes a frame once, as raw UTF-8 JSON, into a payload of exactly its length.</summary>
    public static OutboundFrame Of<T>(T frame, JsonTypeInfo<T> typeInfo, bool ephemeral = false, long storedMessageId = 0)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(1024);
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        buffer.ResetWrittenCount();
        writer.Reset(buffer);
        JsonSerializer.Serialize(writer, frame, typeInfo);
        var payload = buffer.WrittenSpan.ToArray();
        if (buffer.Capacity > KeptBufferBytes)
        {
            // An unusually large frame: do not keep its buffer on this thread.
            t_buffer = null;
            t_writer = null;
        }
        return new(payload, ephemeral, storedMessageId);
    }
}
