using Sidecars.Config;

namespace Sidecars.RateLimiting.Config;

/// <summary>Turns parsed domain documents into the immutable descriptor trees the engine walks.</summary>
internal static class RateLimitCompiler
{
    public static RateLimitConfig Compile(IReadOnlyList<DomainDefinition> definitions, ConfigDiagnostics diagnostics)
    {
        var limitCount = 0;
        var domains = new Dictionary<string, RateLimitDomain>(StringComparer.Ordinal);
        var firstSeen = new Dictionary<string, DomainDefinition>(StringComparer.Ordinal);
        foreach (var definition in definitions)
        {
            if (definition.Domain.Length == 0)
            {
                continue;
            }

            if (firstSeen.TryGetValue(definition.Domain, out var first))
            {
                var line = first.DomainNode?.Start.Line ?? 1;
                diagnostics.Add(definition.File, definition.DomainNode, $"duplicate domain '{ConfigText.Shown(definition.Domain)}' in config file (first defined in {first.File}:{line})");
                continue;
            }

            firstSeen.Add(definition.Domain, definition);
            var root = CompileLevel(definition.File, definition.Domain + ".", definition.Descriptors, diagnostics, null, ref limitCount);
            domains.Add(definition.Domain, new RateLimitDomain(definition.Domain, root, definition.OnBackendError, definition.HashTagDomain));
        }

        return new RateLimitConfig(domains);
    }

    private static DescriptorNode CompileLevel(
        string file, string parentKey, IReadOnlyList<DescriptorDefinition> descriptors, ConfigDiagnostics diagnostics, CompiledLimit[]? limits, ref int limitCount)
    {
        var children = new Dictionary<string, DescriptorNode>(StringComparer.Ordinal);
        var wildcards = new List<WildcardChild>();
        foreach (var descriptor in descriptors)
        {
            if (descriptor.Key.Length == 0)
            {
                continue;
            }

            var finalKey = descriptor.Value is null ? descriptor.Key : descriptor.Key + "_" + descriptor.Value;
            var fullKey = parentKey + finalKey;
            if (children.ContainsKey(finalKey))
            {
                diagnostics.Add(file, descriptor.Node, $"duplicate descriptor composite key '{ConfigText.Shown(fullKey)}'");
                continue;
            }

            limitCount += descriptor.Limits.Count;
            if (limitCount > ConfigLimits.MaxLimits)
            {
                // Bounds what the compiled trees and the engine's tables can cost (issue 7, finding 10: an alias bomb made 1.1 M limits).
                diagnostics.Add(file, descriptor.Node, $"config refused: more than {ConfigLimits.MaxLimits} rate limits");
                break;
            }

            var compiled = descriptor.Limits.Count == 0 ? null : descriptor.Limits.Select(l => Compile(l, descriptor, fullKey)).ToArray();
            var node = CompileLevel(file, fullKey + ".", descriptor.Children, diagnostics, compiled, ref limitCount);
            children.Add(finalKey, node);
            if (WildcardPattern.IsWildcard(descriptor.Value))
            {
                wildcards.Add(new WildcardChild(descriptor.Key, new WildcardPattern(descriptor.Value!), node));
            }
        }

        return new DescriptorNode(limits, children, [.. wildcards]);
    }

    private static CompiledLimit Compile(LimitDefinition limit, DescriptorDefinition descriptor, string fullKey) =>
        new(
            limit.Unit,
            limit.RequestsPerUnit,
            limit.Algorithm,
            limit.Burst,
            limit.Name,
            descriptor.ShadowMode,
            limit.Replaces,
            limit.Unlimited,
            descriptor.DetailedMetric,
            fullKey);
}
