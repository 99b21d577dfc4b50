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
            regex = PathRegex(yaml, YamlReading.Get(match, "path_regex"), regexText);
            if (regex is null)
            {
                return null;
            }
        }

        var headers = new List<HeaderCondition>();
        foreach (var (header, name) in HeaderEntries(yaml, match, "headers", "a header match", "name", "value"))
        {
            headers.Add(new HeaderCondition(name, yaml.String(header, "value")));
        }

        var methods = Strings(yaml, match, "methods");
        foreach (var method in methods.Where(m => !IsToken(m)))
        {
            yaml.Error(YamlReading.Get(match, "methods"), $"'methods' holds '{ConfigText.Shown(method)}', which is not an HTTP method name");
        }

        // A route that no normalised request can match would silently never apply (issue 7, finding 3).
        foreach (var (key, value) in (ReadOnlySpan<(string, string?)>)[("host", yaml.String(match, "host")), ("path", path), ("path_prefix", prefix)])
        {
            if (value is { Length: > 0 } && (key == "host" ? RequestHost.ConfigProblem(value) : RequestPath.ConfigProblem(value)) is { } problem)
            {
                yaml.Error(YamlReading.Get(match, key), $"'{key}' {problem}");
            }
        }

        return new RouteMatch(yaml.String(match, "host"), path, prefix, regex, methods.Select(m => m.ToUpperInvariant()).ToArray(), headers);
    }

    /// <summary>
    /// Anchored like Envoy's safe_regex (full match); NonBacktracking keeps matching linear in the path. That engine
    /// refuses lookarounds, backreferences, atomic groups and conditionals with <see cref="NotSupportedException"/>,
    /// not the <see cref="ArgumentException"/> of a syntax error (issue 7, finding 10): both are located errors here,
    /// in our words, since the framework's message may be a bare resource key in the AOT binary.
    /// </summary>
    private static Regex? PathRegex(YamlReading yaml, YamlNode? node, string text, string key = "path_regex")
    {
        if (text.Length > ConfigLimits.MaxPathRegexLength)
        {
            yaml.Error(node, $"'{key}' is longer than {ConfigLimits.MaxPathRegexLength} characters");
            return null;
        }

        const string Prefix = "^(?:";
        try
        {
            return new Regex(Prefix + text + ")$", RegexOptions.NonBacktracking | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
        }
        catch (RegexParseException e)
        {
            var offset = Math.Clamp(e.Offset - Prefix.Length, 0, text.Length);
            yaml.Error(node, $"invalid {key} at character {offset}: {Words(e.Error.ToString())}");
        }
        catch (NotSupportedException)
        {
            yaml.Error(node, key + " uses a construct that cannot be matched in linear time (lookarounds, backreferences, atomic groups, conditionals); rewrite it without them");
        }
#pragma warning disable CA1031 // Any other refusal of the pattern is this key's located error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            yaml.Error(node, $"invalid {key}: " + ConfigText.Describe(e));
        }

        return null;
    }

    /// <summary><c>UnterminatedBracket</c> → <c>unterminated bracket</c>.</summary>
    private static string Words(string name)
    {
        var builder = new System.Text.StringBuilder();
        foreach (var c in name)
        {
            if (char.IsUpper(c) && builder.Length > 0)
            {
                builder.Append(' ');
            }

            builder.Append(char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }
}
