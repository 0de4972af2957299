using System.Text;
using ICU4N.Text;

namespace Chat.Server.Storage;

/// <summary>
/// The one text fold behind search, applied alike to what is indexed (search terms, <c>email_norm</c>) and to the
/// query: Unicode NFKC_Casefold (compatibility normalization with full case folding, ICU's <c>nfkc_cf</c>), then every
/// run of Unicode white space as one U+0020. So <c>ΣΩΚΡΑΤΗΣ</c> finds <c>Σωκρατης</c> (final sigma), a decomposed
/// <c>e</c> + U+0308 finds a precomposed <c>ë</c> and the reverse, <c>STRASSE</c> finds <c>Straße</c>, a full-width
/// <c>Ａ</c> finds <c>a</c>.
/// </summary>
/// <remarks>
/// ICU4N is managed code with its own Unicode data, so the fold is the same on every machine and in
/// InvariantGlobalization mode, where <see cref="string.Normalize()"/> silently returns its input unchanged and
/// <see cref="string.ToLowerInvariant"/> is simple case mapping only (no ß → ss, and σ/ς stay apart).
/// Usernames are not keyed by this fold: they are ASCII, unique by <see cref="UserStore.UsernameKey"/>.
/// </remarks>
public static class SearchFold
{
    private static readonly Normalizer2 NfkcCasefold = Normalizer2.NFKCCaseFoldInstance;

    /// <summary>NFKC_Casefold of <paramref name="text"/>, each run of white space as one U+0020 (not trimmed).</summary>
    public static string Fold(string text) => CollapseWhiteSpace(NfkcCasefold.Normalize(text));

    /// <summary>
    /// The terms a user is found by: the folded username, the folded full name as one phrase (its words joined by one
    /// space) and each word of it. Words are split at any Unicode white space (<see cref="char.IsWhiteSpace(char)"/>:
    /// every White_Space code point is in the BMP).
    /// </summary>
    public static IReadOnlyCollection<string> Terms(string username, string fullName)
    {
        var terms = new HashSet<string>(StringComparer.Ordinal) { Fold(username) };
        var words = NfkcCasefold.Normalize(fullName).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length > 0)
        {
            terms.Add(string.Join(' ', words));
            foreach (var word in words) terms.Add(word);
        }
        return terms;
    }

    /// <summary>A term made of more than one word (stored apart: only a query with a space needs them).</summary>
    public static bool IsPhrase(string term) => term.Contains(' ');

    private static string CollapseWhiteSpace(string s)
    {
        StringBuilder? collapsed = null;
        for (var i = 0; i < s.Length; i++)
        {
            var space = char.IsWhiteSpace(s[i]);
            var runContinues = space && i > 0 && char.IsWhiteSpace(s[i - 1]);
            if (collapsed is null)
            {
                if (!runContinues && (!space || s[i] == ' ')) continue;
                collapsed = new StringBuilder(s.Length).Append(s, 0, i); // the first change: copy what came before
            }
            if (runContinues) continue;
            collapsed.Append(space ? ' ' : s[i]);
        }
        return collapsed?.ToString() ?? s;
    }
}
