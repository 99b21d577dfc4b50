using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>
/// Reads an authorization file (top-level <c>providers</c>, <c>routes</c>, <c>default</c>): the names follow
/// Envoy's jwt_authn filter. Every error is collected with its line and column; provider references are
/// checked across all files by <see cref="Compile"/>.
/// </summary>
internal static partial class AuthYamlParser
{
    public static readonly string[] RootKeys = ["providers", "routes", "default"];

    public sealed record FileDefinition(string File, List<(ProviderPolicy Policy, YamlNode Node)> Providers, List<(AuthRoute Route, YamlNode Node)> Routes, bool? DefaultAllow, YamlNode? DefaultNode);

    public static FileDefinition Parse(YamlReading yaml, YamlMappingNode root)
    {
        yaml.CheckKeys(root, "an authorization file", RootKeys);
        var providers = new List<(ProviderPolicy, YamlNode)>();
        foreach (var map in yaml.Mappings(yaml.Sequence(root, "providers"), "provider"))
        {
            if (yaml.Guard(map, "provider", () => ParseProvider(yaml, map)) is { } provider)
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

            var routeMatch = yaml.Guard(match, "route match", () => ParseMatch(yaml, match));
            var requirement = yaml.Guard(requires, "requirement", () => ParseRequirement(yaml, requires));
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
                yaml.Error(defaultNode, $"invalid default '{ConfigText.Shown(other)}' (valid: allow, deny)");
                break;
        }

        return new FileDefinition(yaml.File, providers, routes, defaultAllow, defaultNode);
    }
}
