namespace Sidecars.RateLimiting;

/// <summary>The compiled, immutable rate limit part of a config snapshot: domain name to descriptor tree.</summary>
public sealed class RateLimitConfig
{
    public static readonly RateLimitConfig Empty = new(new Dictionary<string, DescriptorNode>(StringComparer.Ordinal));

    public RateLimitConfig(Dictionary<string, DescriptorNode> domains)
    {
        Domains = domains;
    }

    public Dictionary<string, DescriptorNode> Domains { get; }

    public int LimitCount => Domains.Values.Sum(Count);

    private static int Count(DescriptorNode node) =>
        (node.Limits?.Length ?? 0) + node.Children.Values.Sum(Count);
}
