using System.Text.RegularExpressions;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Reading a route's <c>match</c>, including building its <c>path_regex</c>.</summary>
internal static partial class AuthYamlParser
{
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

        return new RouteMatch(yaml.String(match, "host"), path, prefix, regex, Strings(yaml, match, "methods").Select(m => m.ToUpperInvariant()).ToArray(), headers);
    }
}
