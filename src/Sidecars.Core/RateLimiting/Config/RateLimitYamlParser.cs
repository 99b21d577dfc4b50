using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.RateLimiting.Config;

/// <summary>
/// Reads an envoyproxy/ratelimit domain document. Semantics and messages follow its
/// <c>src/config/config_impl.go</c>; keys are checked per level, so a misplaced key is reported too.
/// </summary>
internal static class RateLimitYamlParser
{
    public static readonly string[] RootKeys = ["domain", "descriptors", "on_backend_error", "hash_tag"];

    private static readonly string[] DescriptorKeys =
        ["key", "value", "rate_limit", "rate_limits", "descriptors", "shadow_mode", "detailed_metric"];

    private static readonly string[] LimitKeys =
        ["unit", "requests_per_unit", "unlimited", "name", "replaces", "algorithm", "burst"];

    private static readonly string[] ReplacesKeys = ["name"];

    public static DomainDefinition Parse(YamlReading yaml, YamlMappingNode root)
    {
        yaml.CheckKeys(root, "a rate limit config file", RootKeys);
        var domainNode = YamlReading.Get(root, "domain");
        var domain = yaml.String(root, "domain") ?? string.Empty;
        if (domain.Length == 0)
        {
            yaml.Error(domainNode ?? YamlReading.GetKeyNode(root, "domain") ?? root, "config file cannot have empty domain");
        }

        var descriptors = ParseDescriptors(yaml, yaml.Sequence(root, "descriptors"));
        BackendErrorPolicy? onError = null;
        switch (yaml.String(root, "on_backend_error"))
        {
            case null:
                break;
            case "allow":
                onError = BackendErrorPolicy.Allow;
                break;
            case "deny":
                onError = BackendErrorPolicy.Deny;
                break;
            case "local":
                onError = BackendErrorPolicy.Local;
                break;
            case var other:
                yaml.Error(YamlReading.Get(root, "on_backend_error"), $"invalid on_backend_error '{ConfigText.Shown(other)}' (valid: allow, deny, local)");
                break;
        }

        var hashTag = yaml.String(root, "hash_tag");
        if (hashTag is not null && hashTag != "domain" && hashTag != "bucket")
        {
            yaml.Error(YamlReading.Get(root, "hash_tag"), $"invalid hash_tag '{ConfigText.Shown(hashTag)}' (valid: bucket, domain)");
        }

        return new DomainDefinition(yaml.File, domain, domainNode, descriptors, onError, hashTag == "domain");
    }

    private static List<DescriptorDefinition> ParseDescriptors(YamlReading yaml, YamlSequenceNode? sequence)
    {
        var result = new List<DescriptorDefinition>();
        foreach (var map in yaml.Mappings(sequence, "descriptor"))
        {
            if (yaml.Guard(map, "descriptor", () => ParseDescriptor(yaml, map)) is { } descriptor)
            {
                result.Add(descriptor);
            }
        }

        return result;
    }

    private static DescriptorDefinition ParseDescriptor(YamlReading yaml, YamlMappingNode map)
    {
        yaml.CheckKeys(map, "a descriptor", DescriptorKeys);
        var key = yaml.String(map, "key") ?? string.Empty;
        if (key.Length == 0)
        {
            yaml.Error(YamlReading.Get(map, "key") ?? map, "descriptor has empty key");
        }

        var value = yaml.String(map, "value");
        var limits = new List<LimitDefinition>();
        var single = yaml.Mapping(map, "rate_limit");
        var list = yaml.Sequence(map, "rate_limits");
        if (single is not null && list is not null)
        {
            yaml.Error(YamlReading.GetKeyNode(map, "rate_limits"), "a descriptor has either 'rate_limit' or 'rate_limits', not both");
        }

        if (single is not null)
        {
            limits.Add(ParseLimit(yaml, single));
        }

        foreach (var item in yaml.Mappings(list, "entry of 'rate_limits'"))
        {
            var limit = ParseLimit(yaml, item);
            if (limit.Unlimited)
            {
                yaml.Error(item, "'unlimited' is not allowed in 'rate_limits'; use a single 'rate_limit: {unlimited: true}'");
            }

            limits.Add(limit);
        }

        CheckLimitList(yaml, limits);
        return new DescriptorDefinition(
            key,
            string.IsNullOrEmpty(value) ? null : value,
            map,
            limits,
            yaml.Bool(map, "shadow_mode") ?? false,
            yaml.Bool(map, "detailed_metric") ?? false,
            ParseDescriptors(yaml, yaml.Sequence(map, "descriptors")));
    }

    private static LimitDefinition ParseLimit(YamlReading yaml, YamlMappingNode map)
    {
        yaml.CheckKeys(map, "a rate limit", LimitKeys);
        var unlimited = yaml.Bool(map, "unlimited") ?? false;
        var unitText = yaml.String(map, "unit");
        var validUnit = RateLimitUnits.TryParse(unitText, out var unit);
        if (unlimited)
        {
            if (validUnit)
            {
                yaml.Error(YamlReading.Get(map, "unit"), "should not specify rate limit unit when unlimited");
            }
        }
        else if (!validUnit)
        {
            yaml.Error(YamlReading.Get(map, "unit") ?? map, $"invalid rate limit unit '{ConfigText.Shown(unitText)}' (valid: second, minute, hour, day, week, month, year)");
        }

        var name = yaml.String(map, "name");
        var replaces = new List<string>();
        foreach (var item in yaml.Mappings(yaml.Sequence(map, "replaces"), "entry of 'replaces'"))
        {
            yaml.CheckKeys(item, "a replaces entry", ReplacesKeys);
            var replaced = yaml.String(item, "name") ?? string.Empty;
            if (replaced.Length == 0)
            {
                yaml.Error(item, "should not have an empty replaces entry");
            }
            else if (replaced == name)
            {
                yaml.Error(YamlReading.Get(item, "name"), "replaces should not contain name of same descriptor");
            }
            else
            {
                replaces.Add(replaced);
            }
        }

        var algorithmNode = YamlReading.Get(map, "algorithm");
        var (algorithm, burst) = AlgorithmAndBurst(yaml, map);

        if (unlimited && (burst is not null || algorithmNode is not null))
        {
            yaml.Error(map, "an unlimited rate limit takes no 'algorithm' or 'burst'");
        }

        return new LimitDefinition(map, unit, yaml.UInt32(map, "requests_per_unit") ?? 0, unlimited, name, replaces, algorithm, burst);
    }

    /// <summary>
    /// A limit's <c>algorithm</c> (token_bucket, the default, or fixed_window) and <c>burst</c> (token bucket only, at
    /// least 1): read the same way for a descriptor's limits and a service route's (issue 9).
    /// </summary>
    internal static (LimitAlgorithm Algorithm, uint? Burst) AlgorithmAndBurst(YamlReading yaml, YamlMappingNode map)
    {
        var algorithm = LimitAlgorithm.TokenBucket;
        switch (yaml.String(map, "algorithm"))
        {
            case null or "token_bucket":
                break;
            case "fixed_window":
                algorithm = LimitAlgorithm.FixedWindow;
                break;
            case var other:
                yaml.Error(YamlReading.Get(map, "algorithm"), $"invalid algorithm '{ConfigText.Shown(other)}' (valid: token_bucket, fixed_window)");
                break;
        }

        var burst = yaml.UInt32(map, "burst");
        if (burst is not null && algorithm != LimitAlgorithm.TokenBucket)
        {
            yaml.Error(YamlReading.Get(map, "burst"), "'burst' applies only to algorithm token_bucket");
        }
        else if (burst == 0)
        {
            yaml.Error(YamlReading.Get(map, "burst"), "'burst' must be at least 1");
        }

        return (algorithm, burst);
    }

    private static void CheckLimitList(YamlReading yaml, List<LimitDefinition> limits)
    {
        for (var i = 1; i < limits.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (limits[i].Unit == limits[j].Unit && limits[i].Algorithm == limits[j].Algorithm)
                {
                    yaml.Error(limits[i].Node, $"duplicate limit per {RateLimitUnits.Name(limits[i].Unit)} in 'rate_limits'; each entry needs its own unit or algorithm");
                }
            }
        }
    }
}
