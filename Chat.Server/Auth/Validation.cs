using System.Text;
using System.Text.RegularExpressions;
using Chat.Server.Infrastructure;

namespace Chat.Server.Auth;

/// <summary>The contract's field rules, shared by every endpoint and frame that takes the field.</summary>
public static partial class Validation
{
    public const int MaxFullName = 100;
    public const int MaxEmail = 254;

    [GeneratedRegex("^[A-Za-z0-9_.-]{3,32}$")]
    private static partial Regex UsernamePattern();

    // Deliberately loose: one @, something on each side, a dot in the domain, no spaces.
    [GeneratedRegex(@"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
    private static partial Regex EmailPattern();

    public static bool IsValidUsername(string username) => UsernamePattern().IsMatch(username);

    public static string Username(string? username) =>
        username is not null && IsValidUsername(username)
            ? username
            : throw ChatException.BadRequest("username must be 3-32 characters of A-Z a-z 0-9 _ . -");

    public static string Password(string? password) =>
        password is { Length: >= 8 and <= 128 }
            ? password
            : throw ChatException.BadRequest("password must be 8-128 characters.");

    public static string FullName(string? fullName)
    {
        fullName ??= "";
        if (!IsWellFormed(fullName) || CodePoints(fullName) > MaxFullName)
            throw ChatException.BadRequest($"full_name must be at most {MaxFullName} characters.");
        return fullName;
    }

    public static string Email(string? email)
    {
        email ??= "";
        if (email.Length > 0 && (email.Length > MaxEmail || !EmailPattern().IsMatch(email)))
            throw ChatException.BadRequest("email must be empty or a valid address of at most 254 characters.");
        return email;
    }

    /// <summary>Length in Unicode code points (an emoji counts once).</summary>
    public static int CodePoints(string s)
    {
        var n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }

    /// <summary>False for strings with lone surrogates, which cannot be stored as UTF-8 faithfully.</summary>
    public static bool IsWellFormed(string s)
    {
        var span = s.AsSpan();
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(span, out _, out var consumed) != System.Buffers.OperationStatus.Done) return false;
            span = span[consumed..];
        }
        return true;
    }
}
