using System.Globalization;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Validating values shared by every part: string lists, durations, header names and header entries.</summary>
internal static partial class AuthYamlParser
{
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

    /// <summary>
    /// Envoy-style durations: <c>500ms</c>, <c>60s</c>, <c>10m</c>, <c>24h</c>, from <paramref name="min"/> to
    /// <paramref name="max"/> (at most <see cref="ConfigLimits.MaxDuration"/>). The range is checked on the number
    /// before a <see cref="TimeSpan"/> is made: <c>999999999999999h</c> would overflow it (issue 7, finding 10).
    /// </summary>
    private static TimeSpan? Duration(YamlReading yaml, YamlMappingNode map, string key, TimeSpan min, TimeSpan max)
    {
        var text = yaml.String(map, key);
        if (text is null)
        {
            return null;
        }

        var unit = text.EndsWith("ms", StringComparison.Ordinal) ? "ms" : text.Length > 0 ? text[^1..] : string.Empty;
        double? perUnit = unit switch { "ms" => 1, "s" => 1_000, "m" => 60_000, "h" => 3_600_000, _ => null };
        if (perUnit is { } factor &&
            double.TryParse(text.AsSpan(0, text.Length - unit.Length), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var amount) &&
            double.IsFinite(amount))
        {
            var milliseconds = amount * factor;
            if (milliseconds >= min.TotalMilliseconds && milliseconds <= max.TotalMilliseconds)
            {
                return TimeSpan.FromMilliseconds(Math.Round(milliseconds));
            }

            yaml.Error(YamlReading.Get(map, key), $"'{key}' must be from {Show(min)} to {Show(max)}, not {ConfigText.Shown(text)}");
            return null;
        }

        yaml.Error(YamlReading.Get(map, key), $"'{key}' must be a duration such as 500ms, 60s, 10m or 24h");
        return null;
    }

    private static string Show(TimeSpan value) =>
        value.TotalHours >= 1 && value.TotalHours % 1 == 0 ? $"{value.TotalHours}h" :
        value.TotalSeconds % 1 == 0 ? $"{value.TotalSeconds}s" : $"{value.TotalMilliseconds}ms";

    /// <summary>
    /// An HTTP header name as configured: an RFC 9110 token, so a config cannot make the sidecar emit a header
    /// Envoy refuses (a space, CR or LF in a name); lower-cased as HTTP/2 requires.
    /// </summary>
    private static string? HeaderName(YamlReading yaml, YamlMappingNode map, string key)
    {
        var name = yaml.String(map, key);
        if (name is null)
        {
            return null;
        }

        if (!IsToken(name))
        {
            yaml.Error(YamlReading.Get(map, key), $"'{key}' must be a header name (letters, digits and !#$%&'*+-.^_`|~), not '{ConfigText.Shown(name)}'");
            return null;
        }

        return name.ToLowerInvariant();
    }

    /// <summary>RFC 9110 §5.6.2 token: header names and methods.</summary>
    private static bool IsToken(string text)
    {
        if (text.Length == 0 || text.Length > 256)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c, StringComparison.Ordinal)))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The entries of a list of header mappings (<c>from_headers</c>, a match's <c>headers</c>): each must hold a
    /// 'name' that is an RFC 9110 token (lower-cased), and only <paramref name="keys"/>.
    /// </summary>
    private static IEnumerable<(YamlMappingNode Entry, string Name)> HeaderEntries(YamlReading yaml, YamlMappingNode parent, string key, string what, params string[] keys)
    {
        foreach (var entry in yaml.Mappings(yaml.Sequence(parent, key), $"entry of '{key}'"))
        {
            yaml.CheckKeys(entry, what, keys);
            if (YamlReading.Get(entry, "name") is null)
            {
                yaml.Error(entry, $"{what} needs a 'name'");
                continue;
            }

            if (HeaderName(yaml, entry, "name") is { } name)
            {
                yield return (entry, name);
            }
        }
    }
}
