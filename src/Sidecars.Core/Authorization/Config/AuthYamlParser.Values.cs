using System.Globalization;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Validating single values shared by every part: string lists, durations, URIs.</summary>
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
