using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Reading a route's <c>requires</c>: allow, deny, a provider with conditions, or any/all of them.</summary>
internal static partial class AuthYamlParser
{
    private static readonly string[] RequirementKeys = ["provider", "audiences", "scopes", "claims", "allow_missing", "any", "all", "api_key"];

    private static Requirement? ParseRequirement(YamlReading yaml, YamlNode node)
    {
        if (node is YamlScalarNode scalar)
        {
            switch (scalar.Value)
            {
                case "allow":
                    return Requirement.Allow;
                case "deny":
                    return Requirement.Deny;
                default:
                    yaml.Error(node, $"invalid requirement '{ConfigText.Shown(scalar.Value)}' (valid: allow, deny, or a mapping)");
                    return null;
            }
        }

        if (node is not YamlMappingNode map)
        {
            yaml.Error(node, "a requirement is allow, deny, or a mapping");
            return null;
        }

        yaml.CheckKeys(map, "a requirement", RequirementKeys);
        var any = yaml.Sequence(map, "any");
        var all = yaml.Sequence(map, "all");
        var provider = yaml.String(map, "provider");
        var apiKey = yaml.String(map, "api_key");
        if ((any is null ? 0 : 1) + (all is null ? 0 : 1) + (provider is null ? 0 : 1) + (apiKey is null ? 0 : 1) != 1)
        {
            yaml.Error(map, "a requirement has exactly one of 'provider', 'api_key', 'any' or 'all'");
            return null;
        }

        if (apiKey is not null)
        {
            // Resolved against the service's api_keys by the service compiler; a shared routes file has none.
            foreach (var key in (ReadOnlySpan<string>)["audiences", "scopes", "claims", "allow_missing"])
            {
                if (YamlReading.Get(map, key) is { } extra)
                {
                    yaml.Error(extra, $"'{key}' applies to a provider requirement, not to 'api_key' (use rules for an API key's claims)");
                }
            }

            return new ApiKeyRequirement(apiKey);
        }

        if (any is not null || all is not null)
        {
            var parts = new List<Requirement>();
            foreach (var item in (any ?? all)!.Children)
            {
                if (ParseRequirement(yaml, item) is { } part)
                {
                    parts.Add(part);
                }
            }

            if (parts.Count == 0)
            {
                yaml.Error(map, "'any' and 'all' need at least one requirement");
                return null;
            }

            return any is not null ? new AnyRequirement(parts) : new AllRequirement(parts);
        }

        var claims = new List<ClaimCondition>();
        if (yaml.Mapping(map, "claims") is { } claimMap)
        {
            foreach (var (key, value) in claimMap.Children)
            {
                if (key is not YamlScalarNode { Value: { Length: > 0 } name })
                {
                    yaml.Error(key, "each key of 'claims' must be a claim name");
                    continue;
                }

                var values = value switch
                {
                    YamlScalarNode s => [s.Value ?? string.Empty],
                    YamlSequenceNode list => list.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? string.Empty).ToArray(),
                    _ => Array.Empty<string>(),
                };
                if (values.Length == 0)
                {
                    yaml.Error(value, $"claim '{ConfigText.Shown(name)}' needs a value or a list of values");
                    continue;
                }

                claims.Add(new ClaimCondition(name, values));
            }
        }

        var audiences = YamlReading.Get(map, "audiences") is null ? null : Strings(yaml, map, "audiences");
        return new ProviderRequirement(provider!, audiences, Strings(yaml, map, "scopes"), claims, yaml.Bool(map, "allow_missing") ?? false);
    }
}
