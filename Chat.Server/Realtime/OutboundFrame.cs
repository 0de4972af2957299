using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Chat.Server.Realtime;

/// <summary>
/// One serialized frame. The same immutable bytes are shared by every socket it goes to.
/// Ephemeral frames (typing, presence) are the first shed when a socket falls behind.
/// </summary>
public readonly record struct OutboundFrame(byte[] Payload, bool Ephemeral = false)
{
    public static OutboundFrame Of<T>(T frame, JsonTypeInfo<T> typeInfo, bool ephemeral = false) =>
        new(JsonSerializer.SerializeToUtf8Bytes(frame, typeInfo), ephemeral);
}
