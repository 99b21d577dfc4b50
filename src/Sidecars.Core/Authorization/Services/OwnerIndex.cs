namespace Sidecars.Authorization.Services;

/// <summary>
/// Finds the service that owns a request: by host (one dictionary lookup, then one per parent domain for
/// <c>*.suffix</c> owners), then the longest owned path prefix of that host, then the whole host. A host's prefixes
/// are grouped by length, one dictionary per length: the path's first L characters are looked up for each length L,
/// longest first. The work per request depends on the host's labels and how many different prefix lengths it has,
/// never on how many services share it.
/// </summary>
public sealed class OwnerIndex
{
    private readonly Dictionary<string, HostOwners> _byHost;
    private readonly Dictionary<string, HostOwners>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly bool _hasWildcards;

    /// <summary>One host's owners: its prefixes by length (longest first), each length in an ordinal and a case-folding dictionary, and the whole-host owner.</summary>
    private sealed class HostOwners
    {
        public HostOwners(IEnumerable<OwnedSpace> spaces)
        {
            var list = spaces.ToList();
            Whole = list.FirstOrDefault(s => s.PathPrefix is null);
            Lengths = [.. list.Where(s => s.PathPrefix is not null).GroupBy(s => s.PathPrefix!.Length).OrderByDescending(g => g.Key).Select(g => new PrefixLength(g.Key, g))];
        }

        public OwnedSpace? Whole { get; }

        public PrefixLength[] Lengths { get; }
    }

    private sealed class PrefixLength
    {
        public PrefixLength(int length, IEnumerable<OwnedSpace> spaces)
        {
            Length = length;
            var exact = new Dictionary<string, OwnedSpace>(StringComparer.Ordinal);
            var folded = new Dictionary<string, OwnedSpace>(StringComparer.OrdinalIgnoreCase);
            foreach (var space in spaces)
            {
                exact.TryAdd(space.PathPrefix!, space);
                folded.TryAdd(space.PathPrefix!, space);
            }

            Exact = exact.GetAlternateLookup<ReadOnlySpan<char>>();
            Folded = folded.GetAlternateLookup<ReadOnlySpan<char>>();
        }

        public int Length { get; }

        public Dictionary<string, OwnedSpace>.AlternateLookup<ReadOnlySpan<char>> Exact { get; }

        /// <summary>Two prefixes that differ only in case fold to the first: the evaluator's case check then sees another owner and refuses the request.</summary>
        public Dictionary<string, OwnedSpace>.AlternateLookup<ReadOnlySpan<char>> Folded { get; }
    }

    public static readonly OwnerIndex Empty = new([]);

    public OwnerIndex(IEnumerable<OwnedSpace> spaces)
    {
        _byHost = spaces
            .GroupBy(s => s.Host, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(g => g.Key, g => new HostOwners(g), StringComparer.OrdinalIgnoreCase);
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

    private static OwnedSpace? Longest(HostOwners owners, ReadOnlySpan<char> path, bool ignoreCase)
    {
        foreach (var group in owners.Lengths)
        {
            if (group.Length <= path.Length &&
                (ignoreCase ? group.Folded : group.Exact).TryGetValue(path[..group.Length], out var space))
            {
                return space;
            }
        }

        return owners.Whole;
    }
}
