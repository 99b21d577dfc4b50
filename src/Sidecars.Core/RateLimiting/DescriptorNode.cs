namespace Sidecars.RateLimiting;

/// <summary>
/// One level of a domain's descriptor tree. Children are keyed as envoyproxy/ratelimit keys them:
/// <c>key_value</c> for a descriptor with a value, <c>key</c> for a key-only default.
/// </summary>
public sealed class DescriptorNode
{
    private static readonly Dictionary<string, DescriptorNode> NoChildren = new(StringComparer.Ordinal);

    internal DescriptorNode(CompiledLimit[]? limits, Dictionary<string, DescriptorNode>? children, WildcardChild[]? wildcards)
    {
        Limits = limits;
        Children = children is { Count: > 0 } ? children : NoChildren;
        ChildLookup = Children.GetAlternateLookup<ReadOnlySpan<char>>();
        Wildcards = wildcards ?? [];
    }

    /// <summary>The limits at this node (several with the <c>rate_limits</c> extension), or null when it only groups children.</summary>
    public CompiledLimit[]? Limits { get; }

    public Dictionary<string, DescriptorNode> Children { get; }

    internal Dictionary<string, DescriptorNode>.AlternateLookup<ReadOnlySpan<char>> ChildLookup { get; }

    /// <summary>Children whose value holds <c>*</c>, in file order: the first match wins.</summary>
    public WildcardChild[] Wildcards { get; }

    public bool HasChildren => Children.Count > 0;
}

/// <summary>A child reached when the entry's key is equal and its value matches the pattern.</summary>
public sealed record WildcardChild(string Key, WildcardPattern Pattern, DescriptorNode Node);
