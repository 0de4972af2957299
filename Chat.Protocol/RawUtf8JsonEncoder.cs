using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;

namespace Chat.Protocol;

/// <summary>
/// A JSON string encoder that escapes only what JSON itself requires (RFC 8259 section 7: <c>"</c>, <c>\</c> and the
/// control characters U+0000-U+001F) and writes every other character as raw UTF-8. The framework's encoders write
/// every non-ASCII character (and, even the relaxed one, every emoji) as <c>\uXXXX</c>, six to twelve bytes for what
/// UTF-8 says in two to four: a 4,000-emoji message became a 48 KB frame instead of a 16 KB one. Not for JSON
/// embedded in HTML (it leaves <c>&lt;</c>, <c>&amp;</c> and <c>'</c> alone); every consumer here is a JSON parser.
/// A lone surrogate (which has no UTF-8 form) is written as U+FFFD by the writer, as with any encoder.
/// </summary>
public sealed class RawUtf8JsonEncoder : JavaScriptEncoder
{
    /// <summary>The one instance; the encoder keeps no state.</summary>
    public static RawUtf8JsonEncoder Instance { get; } = new();

    // Printable ASCII less the two characters JSON escapes.
    private static readonly SearchValues<byte> SafeAsciiBytes = SearchValues.Create(
        Enumerable.Range(0x20, 0x80 - 0x20).Where(b => b is not ('"' or '\\')).Select(b => (byte)b).ToArray());
    private static readonly SearchValues<char> SafeAsciiChars = SearchValues.Create(
        Enumerable.Range(0x20, 0x80 - 0x20).Where(b => b is not ('"' or '\\')).Select(b => (char)b).ToArray());

    private RawUtf8JsonEncoder() { }

    /// <summary><c>\uXXXX</c>: six characters for one input character.</summary>
    public override int MaxOutputCharactersPerInputCharacter => 6;

    /// <inheritdoc />
    public override bool WillEncode(int unicodeScalar) =>
        unicodeScalar is < 0x20 or '"' or '\\' || (unicodeScalar is >= 0xD800 and <= 0xDFFF);

    /// <inheritdoc />
    public override int FindFirstCharacterToEncodeUtf8(ReadOnlySpan<byte> utf8Text)
    {
        var i = 0;
        while (true)
        {
            var next = utf8Text[i..].IndexOfAnyExcept(SafeAsciiBytes);
            if (next < 0) return -1;
            i += next;
            if (utf8Text[i] < 0x80) return i; // a quote, a backslash or a control character
            // Non-ASCII: kept as it is when it is well-formed UTF-8; anything else is for the writer to handle.
            if (Rune.DecodeFromUtf8(utf8Text[i..], out _, out var length) != OperationStatus.Done) return i;
            i += length;
        }
    }

    /// <inheritdoc />
    public override unsafe int FindFirstCharacterToEncode(char* text, int textLength)
    {
        var span = new ReadOnlySpan<char>(text, textLength);
        var i = 0;
        while (true)
        {
            var next = span[i..].IndexOfAnyExcept(SafeAsciiChars);
            if (next < 0) return -1;
            i += next;
            var c = span[i];
            if (c < 0x80) return i;
            if (char.IsHighSurrogate(c))
            {
                if (i + 1 < span.Length && char.IsLowSurrogate(span[i + 1])) { i += 2; continue; }
                return i;
            }
            if (char.IsLowSurrogate(c)) return i;
            i++;
        }
    }

    /// <inheritdoc />
    public override unsafe bool TryEncodeUnicodeScalar(int unicodeScalar, char* buffer, int bufferLength, out int numberOfCharactersWritten)
    {
        var destination = new Span<char>(buffer, bufferLength);
        numberOfCharactersWritten = 0;
        if (!WillEncode(unicodeScalar))
        {
            if (!Rune.TryCreate(unicodeScalar, out var rune) || !rune.TryEncodeToUtf16(destination, out var written)) return false;
            numberOfCharactersWritten = written;
            return true;
        }
        if (destination.Length < 6) return false;
        destination[0] = '\\';
        destination[1] = 'u';
        ((ushort)unicodeScalar).TryFormat(destination[2..], out _, "X4");
        numberOfCharactersWritten = 6;
        return true;
    }
}
