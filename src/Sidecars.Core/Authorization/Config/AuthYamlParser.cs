using System.Globalization;
using System.Text.RegularExpressions;
using Sidecars.Authentication;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>
/// Reads an authorization file (top-level <c>providers</c>, <c>routes</c>, <c>default</c>): the names follow
/// Envoy's jwt_authn filter. Every error is collected with its line and column; provider references are
/// checked across all files by <see cref="Compile"/>.
/// </summary>
internal static class AuthYamlParser
{
    public static readonly string[] RootKeys = ["providers", "routes", "default"];

    private static readonly string[] ProviderKeys =
    [
        "name", "issuer", "audiences", "remote_jwks", "discovery", "local_jwks", "from_headers", "from_params", "from_cookies",
        "forward", "forward_payload_header", "claim_to_headers", "clock_skew", "require_expiration", "max_lifetime", "typ", "max_token_size",
    ];

    private static readonly string[] RequirementKeys = ["provider", "audiences", "scopes", "claims", "allow_missing", "any", "all"];

    public sealed record FileDefinition(string File, List<(ProviderPolicy Policy, YamlNode Node)> Providers, List<(AuthRoute Route, YamlNode Node)> Routes, bool? DefaultAllow, YamlNode? DefaultNode);

    public static FileDefinition Parse(YamlReading yaml, YamlMappingNode root)
    {
        yaml.CheckKeys(root, "an authorization file", RootKeys);
        var providers = new List<(ProviderPolicy, YamlNode)>();
        foreach (var map in yaml.Mappings(yaml.Sequence(root, "providers"), "provider"))
        {
            if (ParseProvider(yaml, map) is { } provider)
            {
                providers.Add((provider, map));
            }
        }

        var routes = new List<(AuthRoute, YamlNode)>();
        var index = 0;
        foreach (var map in yaml.Mappings(yaml.Sequence(root, "routes"), "route"))
        {
            index++;
            yaml.CheckKeys(map, "a route", "name", "match", "requires");
            var name = yaml.String(map, "name") ?? $"{Path.GetFileName(yaml.File)}#{index}";
            var match = yaml.Mapping(map, "match");
            if (match is null)
            {
                yaml.Error(map, "a route needs 'match'");
                continue;
            }

            var requires = YamlReading.Get(map, "requires");
            if (requires is null)
            {
                yaml.Error(map, "a route needs 'requires'");
                continue;
            }

            var routeMatch = ParseMatch(yaml, match);
            var requirement = ParseRequirement(yaml, requires);
            if (routeMatch is not null && requirement is not null)
            {
                routes.Add((new AuthRoute(name, routeMatch, requirement), map));
            }
        }

        YamlNode? defaultNode = YamlReading.Get(root, "default");
        bool? defaultAllow = null;
        switch (yaml.String(root, "default"))
        {
            case null:
                break;
            case "allow":
                defaultAllow = true;
                break;
            case "deny":
                defaultAllow = false;
                break;
            case var other:
                yaml.Error(defaultNode, $"invalid default '{other}' (valid: allow, deny)");
                break;
        }

        return new FileDefinition(yaml.File, providers, routes, defaultAllow, defaultNode);
    }

    /// <summary>
    /// Joins every file: routes in file-name order then declared order, provider names unique across files,
    /// every referenced provider defined, at most one file setting <c>default</c>.
    /// </summary>
    public static AuthPolicy Compile(IReadOnlyList<FileDefinition> files, ConfigDiagnostics diagnostics)
    {
        var providers = new Dictionary<string, ProviderPolicy>(StringComparer.Ordinal);
        var providerFiles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var (policy, node) in file.Providers)
            {
                var name = policy.Provider.Name;
                if (providerFiles.TryGetValue(name, out var owner))
                {
                    diagnostics.Add(file.File, node, $"provider '{name}' is already defined in {owner}");
                    continue;
                }

                providers[name] = policy;
                providerFiles[name] = file.File;
            }
        }

        var routes = new List<AuthRoute>();
        bool? defaultAllow = null;
        string? defaultFile = null;
        foreach (var file in files)
        {
            foreach (var (route, node) in file.Routes)
            {
                foreach (var missing in Referenced(route.Requires).Where(p => !providers.ContainsKey(p)).Distinct())
                {
                    diagnostics.Add(file.File, node, $"route '{route.Name}' requires unknown provider '{missing}'");
                }

                routes.Add(route with { Requires = WithAudiences(route.Requires, providers) });
            }

            if (file.DefaultAllow is { } value)
            {
                if (defaultFile is not null)
                {
                    diagnostics.Add(file.File, file.DefaultNode, $"'default' is already set in {defaultFile}");
                }
                else
                {
                    defaultAllow = value;
                    defaultFile = file.File;
                }
            }
        }

        return new AuthPolicy(providers, routes, defaultAllow ?? false);
    }

    /// <summary>Each provider requirement gets the audiences it checks: its own if it names any, else its provider's (Envoy jwt_authn semantics).</summary>
    private static Requirement WithAudiences(Requirement requirement, Dictionary<string, ProviderPolicy> providers) => requirement switch
    {
        ProviderRequirement { Audiences: null or { Count: 0 } } p when providers.TryGetValue(p.Provider, out var provider) && provider.Audiences is { Count: > 0 } audiences =>
            p with { Audiences = audiences },
        AnyRequirement any => new AnyRequirement([.. any.Options.Select(o => WithAudiences(o, providers))]),
        AllRequirement all => new AllRequirement([.. all.Parts.Select(o => WithAudiences(o, providers))]),
        _ => requirement,
    };

    private static IEnumerable<string> Referenced(Requirement requirement) => requirement switch
    {
        ProviderRequirement p => [p.Provider],
        AnyRequirement any => any.Options.SelectMany(Referenced),
        AllRequirement all => all.Parts.SelectMany(Referenced),
        _ => [],
    };

    private static ProviderPolicy? ParseProvider(YamlReading yaml, YamlMappingNode map)
    {
        yaml.CheckKeys(map, "a provider", ProviderKeys);
        var name = yaml.String(map, "name");
        if (string.IsNullOrEmpty(name))
        {
            yaml.Error(map, "a provider needs a 'name'");
            return null;
        }

        var keys = ParseKeySource(yaml, map);
        var options = new JwtValidationOptions
        {
            Issuer = yaml.String(map, "issuer"),
            // Audiences are checked per route (see Compile), so that a route's own list can override them.
            ClockSkew = Duration(yaml, map, "clock_skew") ?? TimeSpan.FromSeconds(60),
            RequireExpiration = yaml.Bool(map, "require_expiration") ?? true,
            MaxLifetime = Duration(yaml, map, "max_lifetime"),
            RequiredType = yaml.String(map, "typ"),
            MaxTokenLength = (int)Math.Min(yaml.UInt32(map, "max_token_size") ?? 8 * 1024, 1024 * 1024),
        };

        var locations = new List<TokenLocation>();
        foreach (var header in yaml.Mappings(yaml.Sequence(map, "from_headers"), "entry of 'from_headers'"))
        {
            yaml.CheckKeys(header, "a from_headers entry", "name", "value_prefix");
            var headerName = yaml.String(header, "name");
            if (string.IsNullOrEmpty(headerName))
            {
                yaml.Error(header, "a from_headers entry needs a 'name'");
                continue;
            }

            locations.Add(new TokenLocation(TokenLocationKind.Header, headerName.ToLowerInvariant(), yaml.String(header, "value_prefix") ?? string.Empty));
        }

        locations.AddRange(Strings(yaml, map, "from_params").Select(p => new TokenLocation(TokenLocationKind.QueryParameter, p)));
        locations.AddRange(Strings(yaml, map, "from_cookies").Select(c => new TokenLocation(TokenLocationKind.Cookie, c)));

        var claimHeaders = new List<ClaimHeader>();
        foreach (var entry in yaml.Mappings(yaml.Sequence(map, "claim_to_headers"), "entry of 'claim_to_headers'"))
        {
            yaml.CheckKeys(entry, "a claim_to_headers entry", "claim", "header");
            var claim = yaml.String(entry, "claim");
            var header = yaml.String(entry, "header");
            if (string.IsNullOrEmpty(claim) || string.IsNullOrEmpty(header))
            {
                yaml.Error(entry, "a claim_to_headers entry needs 'claim' and 'header'");
                continue;
            }

            claimHeaders.Add(new ClaimHeader(claim, header.ToLowerInvariant()));
        }

        return new ProviderPolicy(
            new JwtProvider(name, options, locations),
            keys,
            yaml.Bool(map, "forward") ?? false,
            yaml.String(map, "forward_payload_header")?.ToLowerInvariant(),
            claimHeaders,
            Strings(yaml, map, "audiences"));
    }

    private static KeySource ParseKeySource(YamlReading yaml, YamlMappingNode map)
    {
        var remote = yaml.Mapping(map, "remote_jwks");
        var discovery = yaml.String(map, "discovery");
        var local = yaml.Mapping(map, "local_jwks");
        var sources = (remote is null ? 0 : 1) + (discovery is null ? 0 : 1) + (local is null ? 0 : 1);
        if (sources != 1)
        {
            yaml.Error(map, "a provider needs exactly one of 'remote_jwks', 'discovery' or 'local_jwks'");
        }

        if (remote is not null)
        {
            yaml.CheckKeys(remote, "remote_jwks", "uri", "cache_duration");
            var uri = yaml.String(remote, "uri");
            if (!IsHttpUri(uri))
            {
                yaml.Error(YamlReading.Get(remote, "uri") ?? remote, "remote_jwks needs an http(s) 'uri'");
            }

            return new KeySource(RemoteUri: uri, CacheDuration: Duration(yaml, remote, "cache_duration") ?? TimeSpan.FromMinutes(5));
        }

        if (discovery is not null)
        {
            if (!IsHttpUri(discovery))
            {
                yaml.Error(YamlReading.Get(map, "discovery"), "'discovery' must be an http(s) URI");
            }

            return new KeySource(DiscoveryUri: discovery);
        }

        if (local is not null)
        {
            yaml.CheckKeys(local, "local_jwks", "file", "inline");
            var file = yaml.String(local, "file");
            var inline = yaml.String(local, "inline");
            if ((file is null) == (inline is null))
            {
                yaml.Error(local, "local_jwks needs exactly one of 'file' or 'inline'");
            }

            return new KeySource(LocalFile: file, LocalInline: inline);
        }

        return new KeySource();
    }

    private static RouteMatch? ParseMatch(YamlReading yaml, YamlMappingNode match)
    {
        yaml.CheckKeys(match, "a route match", "host", "path", "path_prefix", "path_regex", "methods", "headers");
        var path = yaml.String(match, "path");
        var prefix = yaml.String(match, "path_prefix");
        var regexText = yaml.String(match, "path_regex");
        if ((path is null ? 0 : 1) + (prefix is null ? 0 : 1) + (regexText is null ? 0 : 1) > 1)
        {
            yaml.Error(match, "a route match takes one of 'path', 'path_prefix' or 'path_regex'");
            return null;
        }

        Regex? regex = null;
        if (regexText is not null)
        {
            try
            {
                // Anchored like Envoy's safe_regex (full match); NonBacktracking keeps matching linear in the path.
                regex = new Regex("^(?:" + regexText + ")$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
            }
            catch (ArgumentException e)
            {
                yaml.Error(YamlReading.Get(match, "path_regex"), $"invalid path_regex: {e.Message}");
                return null;
            }
        }

        var headers = new List<HeaderCondition>();
        foreach (var header in yaml.Mappings(yaml.Sequence(match, "headers"), "entry of 'headers'"))
        {
            yaml.CheckKeys(header, "a header match", "name", "value");
            var name = yaml.String(header, "name");
            if (string.IsNullOrEmpty(name))
            {
                yaml.Error(header, "a header match needs a 'name'");
                continue;
            }

            headers.Add(new HeaderCondition(name.ToLowerInvariant(), yaml.String(header, "value")));
        }

        // A route that no normalised request can match would silently never apply (issue 7, finding 3).
        foreach (var (key, value) in (ReadOnlySpan<(string, string?)>)[("host", yaml.String(match, "host")), ("path", path), ("path_prefix", prefix)])
        {
            if (value is { Length: > 0 } && (key == "host" ? RequestHost.ConfigProblem(value) : RequestPath.ConfigProblem(value)) is { } problem)
            {
                yaml.Error(YamlReading.Get(match, key), $"'{key}' {problem}");
            }
        }

        return new RouteMatch(yaml.String(match, "host"), path, prefix, regex, Strings(yaml, match, "methods").Select(m => m.ToUpperInvariant()).ToArray(), headers);
    }

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
                    yaml.Error(node, $"invalid requirement '{scalar.Value}' (valid: allow, deny, or a mapping)");
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
        if ((any is null ? 0 : 1) + (all is null ? 0 : 1) + (provider is null ? 0 : 1) != 1)
        {
            yaml.Error(map, "a requirement has exactly one of 'provider', 'any' or 'all'");
            return null;
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
                var name = (key as YamlScalarNode)?.Value ?? string.Empty;
                var values = value switch
                {
                    YamlScalarNode s => [s.Value ?? string.Empty],
                    YamlSequenceNode list => list.Children.OfType<YamlScalarNode>().Select(s => s.Value ?? string.Empty).ToArray(),
                    _ => Array.Empty<string>(),
                };
                if (values.Length == 0)
                {
                    yaml.Error(value, $"claim '{name}' needs a value or a list of values");
                    continue;
                }

                claims.Add(new ClaimCondition(name, values));
            }
        }

        var audiences = YamlReading.Get(map, "audiences") is null ? null : Strings(yaml, map, "audiences");
        return new ProviderRequirement(provider!, audiences, Strings(yaml, map, "scopes"), claims, yaml.Bool(map, "allow_missing") ?? false);
    }

    private static string[] Strings(YamlReading yaml, YamlMappingNode map, string key)
    {
        var sequence = yaml.Sequence(map, key);
        if (sequence is null)
        {
            return [];
        }

        var values = new List<string>();
        foreach (var item in sequence.Children)
        {
            if (item is YamlScalarNode { Value: { Length: > 0 } value })
            {
                values.Add(value);
            }
            else
            {
                yaml.Error(item, $"each entry of '{key}' must be a non-empty string");
            }
        }

        return [.. values];
    }

    /// <summary>Envoy-style durations: <c>500ms</c>, <c>60s</c>, <c>10m</c>, <c>24h</c>.</summary>
    private static TimeSpan? Duration(YamlReading yaml, YamlMappingNode map, string key)
    {
        var text = yaml.String(map, key);
        if (text is null)
        {
            return null;
        }

        var unit = text.EndsWith("ms", StringComparison.Ordinal) ? "ms" : text.Length > 0 ? text[^1..] : string.Empty;
        if (double.TryParse(text.AsSpan(0, text.Length - unit.Length), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount))
        {
            TimeSpan? value = unit switch
            {
                "ms" => TimeSpan.FromMilliseconds(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "h" => TimeSpan.FromHours(amount),
                _ => null,
            };
            if (value is not null)
            {
                return value;
            }
        }

        yaml.Error(YamlReading.Get(map, key), $"'{key}' must be a duration such as 500ms, 60s, 10m or 24h");
        return null;
    }

    private static bool IsHttpUri(string? text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);
}
