using YamlDotNet.RepresentationModel;

namespace Sidecars.RateLimiting.Config;

/// <summary>One file's <c>domain:</c> document as written, with the nodes kept for error locations.</summary>
internal sealed record DomainDefinition(
    string File,
    string Domain,
    YamlNode? DomainNode,
    IReadOnlyList<DescriptorDefinition> Descriptors,
    BackendErrorPolicy? OnBackendError = null,
    bool HashTagDomain = false);

internal sealed record DescriptorDefinition(
    string Key,
    string? Value,
    YamlNode Node,
    IReadOnlyList<LimitDefinition> Limits,
    bool ShadowMode,
    bool DetailedMetric,
    IReadOnlyList<DescriptorDefinition> Children);

internal sealed record LimitDefinition(
    YamlNode Node,
    RateLimitUnit Unit,
    uint RequestsPerUnit,
    bool Unlimited,
    string? Name,
    IReadOnlyList<string> Replaces,
    LimitAlgorithm Algorithm,
    uint? Burst);
