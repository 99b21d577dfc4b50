namespace Sidecars.RateLimiting;

/// <summary>The compiled, immutable rate limit part of a config snapshot: domain name to descriptor tree.</summary>
public sealed class RateLimitConfig
{
    public static readonly RateLimitConfig Empty = new(new Dictionary<string, RateLimitDomain>(StringComparer.Ordinal));

    public RateLimitConfig(Dictionary<string, RateLimitDomain> domains)
    {
        Domains = domains;
        DomainLookup = domains.GetAlternateLookup<ReadOnlySpan<char>>();
    }

    public Dictionary<string, RateLimitDomain> Domains { get; }

    /// <summary><see cref="Domains"/> looked up by characters, so a request's domain needs no string.</summary>
    public Dictionary<string, RateLimitDomain>.AlternateLookup<ReadOnlySpan<char>> DomainLookup { get; }

    public int LimitCount => Domains.Values.Sum(d => Count(d.Root));

    private static int Count(DescriptorNode node) =>
        (node.Limits?.Length ?? 0) + node.Children.Values.Sum(Count);
}
