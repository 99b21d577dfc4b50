namespace Sidecars.Authorization.Services;

/// <summary>
/// Finds the service that owns a request: by host (one dictionary lookup, then one per parent domain for
/// <c>*.suffix</c> owners), then the longest owned path prefix of that host, then the whole host. The work per
/// request depends on the host's labels and the prefixes of that one host, never on how many services there are.
/// </summary>
public sealed class OwnerIndex
{
    // Per host: its owned prefixes, longest first, then the whole-host owner (null prefix) if any.
    private readonly Dictionary<string, OwnedSpace[]> _byHost;
    private readonly Dictionary<string, OwnedSpace[]>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly bool _hasWildcards;

    public static readonly OwnerIndex Empty = new([]);

    public OwnerIndex(IEnumerable<OwnedSpace> spaces)
    {
        _byHost = spaces
            .GroupBy(s => s.Host, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => g.OrderByDescending(s => s.PathPrefix?.Length ?? -1).ToArray(), StringComparer.OrdinalIgnoreCase);
        _lookup = _byHost.GetAlternateLookup<ReadOnlySpan<char>>();
        _hasWildcards = _byHost.Keys.Any(h => h.StartsWith("*.", StringComparison.Ordinal));
    }

    public bool IsEmpty => _byHost.Count == 0;

    /// <summary>The owner of (<paramref name="host"/>, <paramref name="path"/>), or null. <paramref name="ignoreCase"/> compares prefixes ignoring ASCII case, as the evaluator's case check asks.</summary>
    public OwnedSpace? Find(ReadOnlySpan<char> host, ReadOnlySpan<char> path, bool ignoreCase)
    {
        if (_byHost.Count == 0)
        {
            return null;
        }

        if (_lookup.TryGetValue(host, out var spaces) && Longest(spaces, path, ignoreCase) is { } exact)
        {
            return exact;
        }

        if (!_hasWildcards)
        {
            return null;
        }

        // *.example.com owns a.example.com and a.b.example.com (not example.com), as route hosts match: the nearest suffix first.
        Span<char> pattern = stackalloc char[Math.Min(host.Length + 1, 256)];
        for (var dot = host.IndexOf('.'); dot >= 0 && dot < host.Length - 1; dot = NextDot(host, dot))
        {
            var suffix = host[dot..];
            if (suffix.Length + 1 > pattern.Length)
            {
                continue;
            }

            pattern[0] = '*';
            suffix.CopyTo(pattern[1..]);
            if (_lookup.TryGetValue(pattern[..(suffix.Length + 1)], out spaces) && Longest(spaces, path, ignoreCase) is { } wildcard)
            {
                return wildcard;
            }
        }

        return null;
    }

    private static int NextDot(ReadOnlySpan<char> host, int dot)
    {
        var next = host[(dot + 1)..].IndexOf('.');
        return next < 0 ? -1 : dot + 1 + next;
    }

    private static OwnedSpace? Longest(OwnedSpace[] spaces, ReadOnlySpan<char> path, bool ignoreCase)
    {
        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        foreach (var space in spaces)
        {
            if (space.PathPrefix is null || path.StartsWith(space.PathPrefix, comparison))
            {
                return space;
            }
        }

        return null;
    }
}
