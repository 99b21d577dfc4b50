using Sidecars.Authorization.Services;
using Sidecars.Config;
using Sidecars.RateLimiting;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Reading a service file (top-level <c>service</c>): what it owns, its routes with rules and limits, its API keys.</summary>
internal static partial class AuthYamlParser
{
    public static readonly string[] ServiceRootKeys = ["service", "owns", "mode", "routes", "api_keys"];

    private static readonly string[] ServiceRouteKeys = ["name", "match", "requires", "rules", "rate_limits", "mode"];
    private static readonly string[] ServiceLimitKeys = ["name", "per", "unit", "requests_per_unit", "burst", "algorithm"];
    private static readonly string[] ApiKeySetKeys = ["name", "from_headers", "from_params", "keys", "claim_to_headers", "forward"];

    /// <summary>A parsed service file, before the cross-file checks (ownership, providers) of <see cref="CompileServices"/>.</summary>
    public sealed record ServiceDefinition(
        string File,
        string Name,
        YamlNode Node,
        PolicyMode Mode,
        List<(string Host, string? Prefix, YamlNode Node)> Owns,
        List<ServiceRouteDefinition> Routes,
        List<(ApiKeySet Set, YamlNode Node)> ApiKeys);

    public sealed record ServiceRouteDefinition(string Name, YamlMappingNode Node, RouteMatch Match, Requirement Requires, List<Rule> Rules, List<ServiceLimitDefinition> Limits, PolicyMode? Mode);

    public sealed record ServiceLimitDefinition(string Name, YamlMappingNode Node, IReadOnlyList<LimitPart> Parts, RateLimitUnit Unit, uint RequestsPerUnit, uint? Burst, LimitAlgorithm Algorithm);

    public static ServiceDefinition? ParseService(YamlReading yaml, YamlMappingNode root)
    {
        yaml.CheckKeys(root, "a service file", ServiceRootKeys);
        var name = yaml.String(root, "service");
        var nameNode = YamlReading.Get(root, "service")!;
        if (string.IsNullOrEmpty(name) || !IsServiceName(name))
        {
            yaml.Error(nameNode, $"'service' must be a name of letters, digits, '-', '_' and '.' (at most 128), not '{ConfigText.Shown(name)}'");
            return null;
        }

        var mode = ParseMode(yaml, root) ?? PolicyMode.Enforce;
        var owns = new List<(string, string?, YamlNode)>();
        foreach (var entry in yaml.Mappings(yaml.Sequence(root, "owns"), "entry of 'owns'"))
        {
            yaml.CheckKeys(entry, "an 'owns' entry", "host", "path_prefix");
            var host = yaml.String(entry, "host");
            var prefix = yaml.String(entry, "path_prefix");
            if (string.IsNullOrEmpty(host))
            {
                yaml.Error(entry, "an 'owns' entry needs a 'host' (and may narrow it with 'path_prefix')");
                continue;
            }

            if (RequestHost.ConfigProblem(host) is { } hostProblem)
            {
                yaml.Error(YamlReading.Get(entry, "host"), $"'host' {hostProblem}");
                continue;
            }

            if (prefix is not null && (prefix.Length == 0 || RequestPath.ConfigProblem(prefix) is not null))
            {
                yaml.Error(YamlReading.Get(entry, "path_prefix"), $"'path_prefix' {(prefix.Length == 0 ? "must not be empty (leave it out to own the whole host)" : RequestPath.ConfigProblem(prefix))}");
                continue;
            }

            owns.Add((host, prefix == "/" ? null : prefix, entry));
        }

        if (owns.Count == 0)
        {
            yaml.Error(YamlReading.Get(root, "owns") ?? nameNode, $"service '{ConfigText.Shown(name)}' needs 'owns': the hosts (and path prefixes) whose requests it decides");
        }

        var apiKeys = new List<(ApiKeySet, YamlNode)>();
        foreach (var map in yaml.Mappings(yaml.Sequence(root, "api_keys"), "entry of 'api_keys'"))
        {
            if (yaml.Guard(map, "API key set", () => ParseApiKeySet(yaml, map, name)) is { } set)
            {
                if (apiKeys.Exists(k => k.Item1.Name == set.Name))
                {
                    yaml.Error(map, $"API key set '{ConfigText.Shown(set.Name)}' is defined twice in this service");
                    continue;
                }

                apiKeys.Add((set, map));
            }
        }

        var routes = new List<ServiceRouteDefinition>();
        foreach (var map in yaml.Mappings(yaml.Sequence(root, "routes"), "route"))
        {
            if (yaml.Guard(map, "route", () => ParseServiceRoute(yaml, map, name)) is { } route)
            {
                if (routes.Exists(r => r.Name == route.Name))
                {
                    yaml.Error(YamlReading.Get(map, "name"), $"route '{ConfigText.Shown(route.Name)}' is defined twice in service '{name}' (names are unique within a service)");
                    continue;
                }

                routes.Add(route);
            }
        }

        if (routes.Count == 0 && YamlReading.Get(root, "routes") is null)
        {
            yaml.Error(nameNode, $"service '{ConfigText.Shown(name)}' has no 'routes': every request it owns would be denied");
        }

        return new ServiceDefinition(yaml.File, name, nameNode, mode, owns, routes, apiKeys);
    }

    private static bool IsServiceName(string name) =>
        name.Length <= 128 && name.AsSpan().IndexOfAnyExcept("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") < 0;

    private static PolicyMode? ParseMode(YamlReading yaml, YamlMappingNode map)
    {
        switch (yaml.String(map, "mode"))
        {
            case null:
                return null;
            case "enforce":
                return PolicyMode.Enforce;
            case "dry_run":
                return PolicyMode.DryRun;
            case var other:
                yaml.Error(YamlReading.Get(map, "mode"), $"invalid mode '{ConfigText.Shown(other)}' (valid: enforce, dry_run)");
                return null;
        }
    }

    private static ServiceRouteDefinition? ParseServiceRoute(YamlReading yaml, YamlMappingNode map, string service)
    {
        yaml.CheckKeys(map, "a service route", ServiceRouteKeys);
        var name = yaml.String(map, "name");
        if (string.IsNullOrEmpty(name) || !IsServiceName(name))
        {
            yaml.Error(YamlReading.Get(map, "name") ?? map, $"a service route needs a 'name' of letters, digits, '-', '_' and '.' (unique within service '{service}')");
            return null;
        }

        var match = yaml.Mapping(map, "match");
        var requires = YamlReading.Get(map, "requires");
        if (match is null || requires is null)
        {
            yaml.Error(map, $"route '{ConfigText.Shown(name)}' needs 'match' and 'requires'");
            return null;
        }

        var routeMatch = yaml.Guard(match, "route match", () => ParseMatch(yaml, match));
        var requirement = yaml.Guard(requires, "requirement", () => ParseRequirement(yaml, requires));
        var rules = new List<Rule>();
        if (YamlReading.Get(map, "rules") is { } rulesNode)
        {
            if (rulesNode is YamlSequenceNode list)
            {
                foreach (var item in list.Children)
                {
                    if (ParseRule(yaml, item, depth: 0) is { } rule)
                    {
                        rules.Add(rule);
                    }
                }
            }
            else
            {
                yaml.Error(rulesNode, "'rules' must be a list of rules (all must hold)");
            }
        }

        var limits = new List<ServiceLimitDefinition>();
        foreach (var limitMap in yaml.Mappings(yaml.Sequence(map, "rate_limits"), "entry of 'rate_limits'"))
        {
            if (ParseServiceLimit(yaml, limitMap, limits.Count) is { } limit)
            {
                if (limits.Exists(l => l.Name == limit.Name))
                {
                    yaml.Error(limitMap, $"rate limit '{ConfigText.Shown(limit.Name)}' is defined twice in route '{name}'");
                    continue;
                }

                limits.Add(limit);
            }
        }

        var mode = ParseMode(yaml, map);
        return routeMatch is null || requirement is null ? null : new ServiceRouteDefinition(name, map, routeMatch, requirement, rules, limits, mode);
    }

    private static ServiceLimitDefinition? ParseServiceLimit(YamlReading yaml, YamlMappingNode map, int index)
    {
        yaml.CheckKeys(map, "a service rate limit", ServiceLimitKeys);
        var name = yaml.String(map, "name") ?? $"limit{index + 1}";
        var parts = new List<LimitPart>();
        var perNode = yaml.Sequence(map, "per");
        if (perNode is null)
        {
            yaml.Error(map, "a service rate limit needs 'per': what its bucket is keyed by (claim:NAME, header:NAME, source_ip, api_key, route, service)");
        }

        foreach (var item in perNode?.Children ?? [])
        {
            var text = (item as YamlScalarNode)?.Value ?? string.Empty;
            LimitPart? part = text switch
            {
                "source_ip" => new LimitPart(LimitPartKind.SourceIp),
                "api_key" => new LimitPart(LimitPartKind.ApiKey),
                "route" => new LimitPart(LimitPartKind.Route),
                "service" => new LimitPart(LimitPartKind.Service),
                _ when text.StartsWith("claim:", StringComparison.Ordinal) && text.Length > 6 => new LimitPart(LimitPartKind.Claim, text[6..]),
                _ when text.StartsWith("header:", StringComparison.Ordinal) && text.Length > 7 && IsToken(text[7..]) => new LimitPart(LimitPartKind.Header, text[7..].ToLowerInvariant()),
                _ => null,
            };
            if (part is null)
            {
                yaml.Error(item, $"invalid 'per' entry '{ConfigText.Shown(text)}' (valid: claim:NAME, header:NAME, source_ip, api_key, route, service)");
                continue;
            }

            parts.Add(part.Value);
        }

        var unitText = yaml.String(map, "unit");
        if (!RateLimitUnits.TryParse(unitText, out var unit))
        {
            yaml.Error(YamlReading.Get(map, "unit") ?? map, $"invalid rate limit unit '{ConfigText.Shown(unitText)}' (valid: second, minute, hour, day, week, month, year)");
        }

        var requests = yaml.UInt32(map, "requests_per_unit");
        if (requests is null)
        {
            yaml.Error(map, "a service rate limit needs 'requests_per_unit'");
        }

        var (algorithm, burst) = Sidecars.RateLimiting.Config.RateLimitYamlParser.AlgorithmAndBurst(yaml, map);
        return new ServiceLimitDefinition(name, map, parts, unit, requests ?? 0, burst, algorithm);
    }
}
