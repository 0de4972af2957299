using System.Text;
using Chat.Protocol;

namespace Chat.Server.Realtime;

/// <summary>
/// The <c>type</c> of a serialized server frame as a small number (<see cref="OutboundFrame.Type"/>), read once from its
/// bytes when the frame is made or decoded from the bus, so counting frames by type on each socket costs no parsing.
/// Every server frame is written with <c>type</c> first (<c>{"type":"...</c>).
/// </summary>
public static class ServerFrameTypes
{
    /// <summary>Index 0 is <c>other</c> (a payload not starting with a known type); the rest are the server's frame types.</summary>
    private static readonly string[] Names =
    [
        "other", FrameTypes.Connected, FrameTypes.ChatMessage, FrameTypes.MessageSent, FrameTypes.ConversationRefresh,
        FrameTypes.Ack, FrameTypes.MessagesRead, FrameTypes.Typing, FrameTypes.Presence, FrameTypes.SyncComplete,
        FrameTypes.Pong, FrameTypes.Error,
    ];

    private static readonly byte[][] Utf8Names = [.. Names.Select(Encoding.UTF8.GetBytes)];

    private static ReadOnlySpan<byte> Prefix => "{\"type\":\""u8;

    /// <summary>How many type numbers there are (including <c>other</c>).</summary>
    public static int Count => Names.Length;

    /// <summary>The frame type's name for a number from <see cref="Of"/>.</summary>
    public static string Name(byte type) => Names[type];

    /// <summary>The number of the frame type a serialized frame starts with; 0 (<c>other</c>) when none.</summary>
    public static byte Of(ReadOnlySpan<byte> payload)
    {
        if (!payload.StartsWith(Prefix)) return 0;
        var rest = payload[Prefix.Length..];
        var end = rest.IndexOf((byte)'"');
        if (end <= 0) return 0;
        var name = rest[..end];
        for (var i = 1; i < Utf8Names.Length; i++)
            if (name.SequenceEqual(Utf8Names[i])) return (byte)i;
        return 0;
    }
}
