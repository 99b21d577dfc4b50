using System.Net;
using System.Text.RegularExpressions;
using Sidecars.Authorization.Services;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Reading a service route's <c>rules</c>: the operators, the combinators, and the text each rule shows in a reason.</summary>
internal static partial class AuthYamlParser
{
    private const int MaxRuleDepth = 16;

    private static readonly string[] RuleKinds = ["claim", "header", "method", "path", "source_ip", "principal", "context", "all", "any", "not"];

    private static Rule? ParseRule(YamlReading yaml, YamlNode node, int depth)
    {
        if (depth > MaxRuleDepth)
        {
            yaml.Error(node, $"rules nest deeper than {MaxRuleDepth} levels");
            return null;
        }

        if (node is YamlSequenceNode list)
        {
            return Combined(yaml, list, depth, all: true);
        }

        if (node is not YamlMappingNode map || map.Children.Count != 1 || map.Children.First().Key is not YamlScalarNode { Value: { } kind })
        {
            yaml.Error(node, $"a rule is a mapping with one key: {string.Join(", ", RuleKinds)}");
            return null;
        }

        var value = map.Children.First().Value;
        switch (kind)
        {
            case "all" or "any":
                if (value is not YamlSequenceNode parts)
                {
                    yaml.Error(value, $"'{kind}' takes a list of rules");
                    return null;
                }

                return Combined(yaml, parts, depth, all: kind == "all");
            case "not":
                return ParseRule(yaml, value, depth + 1) is { } inner ? new NotRule(inner, $"not ({inner.Text})") : null;
            case "method":
                var methods = RuleStrings(yaml, value, "method");
                foreach (var method in methods.Where(m => !IsToken(m)))
                {
                    yaml.Error(value, $"'method' holds '{ConfigText.Shown(method)}', which is not an HTTP method name");
                }

                return methods.Length == 0 ? null : new MethodRule([.. methods.Select(m => m.ToUpperInvariant())], $"method in [{string.Join(", ", methods)}]");
            case "principal":
                var principals = RuleStrings(yaml, value, "principal");
                return principals.Length == 0 ? null : new PrincipalRule(principals, $"principal in [{string.Join(", ", principals.Select(ConfigText.Shown))}]");
            case "source_ip":
                return SourceIp(yaml, value);
            case "path":
                return PathRuleOf(yaml, value);
            case "claim" or "header" or "context":
                return ValueRule(yaml, kind, value);
            default:
                yaml.Error(map.Children.First().Key, $"unknown rule '{ConfigText.Shown(kind)}' (valid: {string.Join(", ", RuleKinds)})");
                return null;
        }
    }

    private static Rule? Combined(YamlReading yaml, YamlSequenceNode list, int depth, bool all)
    {
        var rules = new List<Rule>();
        foreach (var item in list.Children)
        {
            if (ParseRule(yaml, item, depth + 1) is { } rule)
            {
                rules.Add(rule);
            }
        }

        if (rules.Count == 0)
        {
            yaml.Error(list, $"'{(all ? "all" : "any")}' needs at least one rule");
            return null;
        }

        var text = string.Join(all ? " and " : " or ", rules.Select(r => r.Text));
        return all ? new AllRule(rules, $"({text})") : new AnyRule(rules, $"({text})");
    }

    private static string[] RuleStrings(YamlReading yaml, YamlNode value, string kind)
    {
        if (value is YamlScalarNode { Value: { Length: > 0 } one })
        {
            return [one];
        }

        if (value is YamlSequenceNode list && list.Children.Count > 0 && list.Children.All(c => c is YamlScalarNode { Value.Length: > 0 }))
        {
            return [.. list.Children.Cast<YamlScalarNode>().Select(s => s.Value!)];
        }

        yaml.Error(value, $"'{kind}' takes a non-empty list of strings");
        return [];
    }

    private static Rule? SourceIp(YamlReading yaml, YamlNode value)
    {
        var entries = RuleStrings(yaml, value, "source_ip");
        var networks = new List<IPNetwork>();
        foreach (var entry in entries)
        {
            if (IPNetwork.TryParse(entry, out var network) && HostBitsZero(entry, network))
            {
                networks.Add(network);
            }
            else if (IPAddress.TryParse(entry, out var address))
            {
                networks.Add(new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128));
            }
            else
            {
                yaml.Error(value, $"'source_ip' holds '{ConfigText.Shown(entry)}', which is not an address or a CIDR range with its host bits zero (10.0.0.0/8, 2001:db8::/32)");
            }
        }

        return networks.Count == 0 ? null : new SourceIpRule(networks, $"source_ip in [{string.Join(", ", entries)}]");
    }

    /// <summary>Whether the address as written is the network's own: <c>10.0.0.1/8</c> is refused rather than read as 10.0.0.0/8.</summary>
    private static bool HostBitsZero(string entry, IPNetwork network) =>
        IPAddress.TryParse(entry.AsSpan(0, entry.IndexOf('/', StringComparison.Ordinal) is var slash and >= 0 ? slash : entry.Length), out var written) && written.Equals(network.BaseAddress);

    private static Rule? PathRuleOf(YamlReading yaml, YamlNode value)
    {
        if (value is not YamlMappingNode map)
        {
            yaml.Error(value, "'path' takes { prefix: ... } or { regex: ... }");
            return null;
        }

        yaml.CheckKeys(map, "a path rule", "prefix", "regex");
        var prefix = yaml.String(map, "prefix");
        var regexText = yaml.String(map, "regex");
        if ((prefix is null) == (regexText is null))
        {
            yaml.Error(map, "a path rule takes one of 'prefix' or 'regex'");
            return null;
        }

        if (prefix is not null)
        {
            return new PathRule(prefix, null, $"path prefix '{ConfigText.Shown(prefix)}'");
        }

        return RuleRegex(yaml, YamlReading.Get(map, "regex"), regexText!) is { } regex ? new PathRule(null, regex, $"path regex '{ConfigText.Shown(regexText!)}'") : null;
    }

    private static Rule? ValueRule(YamlReading yaml, string kind, YamlNode value)
    {
        var nameKey = kind == "context" ? "key" : "name";
        if (value is not YamlMappingNode map)
        {
            yaml.Error(value, $"'{kind}' takes {{ {nameKey}: ..., and one of equals, in{(kind == "context" ? string.Empty : ", prefix, regex, exists")}{(kind == "claim" ? ", contains" : string.Empty)} }}");
            return null;
        }

        string[] operators = kind switch
        {
            "claim" => ["equals", "in", "prefix", "regex", "contains", "exists"],
            "header" => ["equals", "in", "prefix", "regex", "exists"],
            _ => ["equals", "in"],
        };
        yaml.CheckKeys(map, $"a {kind} rule", [nameKey, .. operators]);
        var name = yaml.String(map, nameKey);
        var given = operators.Where(o => YamlReading.Get(map, o) is not null).ToArray();
        if (string.IsNullOrEmpty(name) || given.Length != 1)
        {
            yaml.Error(map, $"a {kind} rule needs '{nameKey}' and exactly one of {string.Join(", ", operators)}");
            return null;
        }

        if (kind == "header")
        {
            if (!IsToken(name))
            {
                yaml.Error(YamlReading.Get(map, nameKey), $"'{ConfigText.Shown(name)}' is not a header name");
                return null;
            }

            name = name.ToLowerInvariant();
        }

        var op = given[0];
        var node = YamlReading.Get(map, op)!;
        var label = $"{kind} '{ConfigText.Shown(name)}'";
        ValueTest? test;
        string text;
        switch (op)
        {
            case "in":
                var values = RuleStrings(yaml, node, "in");
                test = values.Length == 0 ? null : new ValueTest(ValueOperator.In, values);
                text = $"{label} in [{string.Join(", ", values.Select(ConfigText.Shown))}]";
                break;
            case "exists":
                var exists = yaml.Bool(map, "exists");
                test = exists is null ? null : new ValueTest(ValueOperator.Exists, [], expected: exists.Value);
                text = exists == false ? $"{label} absent" : $"{label} present";
                break;
            case "regex":
                var pattern = yaml.String(map, "regex");
                var regex = pattern is null ? null : RuleRegex(yaml, node, pattern);
                test = regex is null ? null : new ValueTest(ValueOperator.Regex, [pattern!], regex);
                text = $"{label} matches '{ConfigText.Shown(pattern)}'";
                break;
            default:
                var single = yaml.String(map, op);
                test = single is null ? null : new ValueTest(op switch { "equals" => ValueOperator.Equals, "prefix" => ValueOperator.Prefix, _ => ValueOperator.Contains }, [single]);
                text = $"{label} {(op == "equals" ? "equals" : op == "prefix" ? "starts with" : "contains")} '{ConfigText.Shown(single)}'";
                break;
        }

        if (test is null)
        {
            return null;
        }

        return kind switch
        {
            "claim" => new ClaimRule(name, test, text),
            "header" => new HeaderRule(name, test, text),
            _ => new ContextRule(name, test, text),
        };
    }

    /// <summary>As <c>path_regex</c>: anchored, linear-time (NonBacktracking), at most <see cref="ConfigLimits.MaxPathRegexLength"/> characters.</summary>
    private static Regex? RuleRegex(YamlReading yaml, YamlNode? node, string text) => PathRegex(yaml, node, text, "regex");
}
