namespace Sidecars.RateLimiting;

/// <summary>
/// A descriptor value with <c>*</c> anywhere, any number of times, compiled to its literal segments
/// once, so matching is a few span comparisons and never a regex.
/// </summary>
public sealed class WildcardPattern
{
    private readonly string[] _segments;

    public WildcardPattern(string pattern)
    {
        Pattern = pattern;
        _segments = pattern.Split('*');
    }

    public string Pattern { get; }

    public static bool IsWildcard(string? value) => value is not null && value.Contains('*');

    public bool Matches(ReadOnlySpan<char> value)
    {
        var segments = _segments;
        var first = segments[0];
        var last = segments[^1];
        if (value.Length < first.Length + last.Length || !value.StartsWith(first, StringComparison.Ordinal) || !value.EndsWith(last, StringComparison.Ordinal))
        {
            return false;
        }

        var middle = value[first.Length..^last.Length];
        for (var i = 1; i < segments.Length - 1; i++)
        {
            var at = middle.IndexOf(segments[i], StringComparison.Ordinal);
            if (at < 0)
            {
                return false;
            }

            middle = middle[(at + segments[i].Length)..];
        }

        return true;
    }
}
