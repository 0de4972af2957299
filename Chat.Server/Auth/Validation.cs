using System.Text;
using System.Text.RegularExpressions;
using Chat.Server.Infrastructure;

namespace Chat.Server.Auth;

/// <summary>
/// The contract's field rules, shared by every endpoint and frame that takes the field. A pattern matches the whole
/// value (<c>\A…\z</c>: .NET's <c>$</c> also matches before a final newline, so <c>alice\n</c> passed <c>^…$</c>), and
/// every length is in Unicode code points of well-formed text (an emoji counts once; a lone surrogate and U+0000 are refused).
/// </summary>
public static partial class Validation
{
    public const int MinPassword = 8;
    public const int MaxPassword = 128;
    public const int MaxFullName = 100;
    public const int MaxEmail = 254;

    [GeneratedRegex(@"\A[A-Za-z0-9_.-]{3,32}\z")]
    private static partial Regex UsernamePattern();

    // Deliberately loose: one @, something on each side, a dot in the domain, no white space or control characters.
    [GeneratedRegex(@"\A[^@\s\p{Cc}]+@[^@\s\p{Cc}]+\.[^@\s\p{Cc}]+\z")]
    private static partial Regex EmailPattern();

    public static bool IsValidUsername(string username) => UsernamePattern().IsMatch(username);

    public static string Username(string? username) =>
        username is not null && IsValidUsername(username)
            ? username
            : throw ChatException.BadRequest("username must be 3-32 characters of A-Z a-z 0-9 _ . -");

    public static string Password(string? password) =>
        password is not null && HasLength(password, MinPassword, MaxPassword)
            ? password
            : throw ChatException.BadRequest($"password must be {MinPassword}-{MaxPassword} characters.");

    public static string FullName(string? fullName)
    {
        fullName ??= "";
        if (!HasLength(fullName, 0, MaxFullName))
            throw ChatException.BadRequest($"full_name must be at most {MaxFullName} characters.");
        return fullName;
    }

    public static string Email(string? email)
    {
        email ??= "";
        if (email.Length > 0 && (!HasLength(email, 1, MaxEmail) || !EmailPattern().IsMatch(email)))
            throw ChatException.BadRequest($"email must be empty or a valid address of at most {MaxEmail} characters.");
        return email;
    }

    /// <summary>True when <paramref name="s"/> is well-formed UTF-16 of <paramref name="min"/> to <paramref name="max"/> code points.</summary>
    public static bool HasLength(string s, int min, int max)
    {
        // A code point is one or two UTF-16 units: over 2 × max units is too long without decoding.
        if (s.Length > 2L * max || !IsWellFormed(s)) return false;
        var n = CodePoints(s);
        return n >= min && n <= max;
    }

    /// <summary>Length in Unicode code points (an emoji counts once).</summary>
    public static int CodePoints(string s)
    {
        var n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }

    /// <summary>
    /// False for strings with lone surrogates, which cannot be stored as UTF-8 faithfully, and for strings containing
    /// U+0000, which a PostgreSQL <c>text</c> column cannot hold: refused on both stores alike, so a value accepted by one
    /// is accepted by the other (protocol.md, "Text").
    /// </summary>
    public static bool IsWellFormed(string s)
    {
        if (s.Contains('\0')) return false;
        var span = s.AsSpan();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(span, out _, out var consumed) != System.Buffers.OperationStatus.Done) return false;
            span = span[consumed..];
        }
        return true;
    }
}
