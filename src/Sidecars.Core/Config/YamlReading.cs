using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Config;

/// <summary>
/// Typed reads over YamlDotNet's representation model. Every read reports a located error instead of
/// throwing, so one pass finds all the problems of a file.
/// </summary>
internal readonly struct YamlReading(string file, ConfigDiagnostics diagnostics)
{
    public string File => file;

    public ConfigDiagnostics Diagnostics => diagnostics;

    public void Error(YamlNode? node, string message) => diagnostics.Add(file, node, message);

    /// <summary>
    /// Runs one part's reader; whatever it throws becomes an error located at <paramref name="node"/> (issue 7,
    /// finding 10). The readers report what they know precisely; this is the net for what they do not.
    /// </summary>
    public T? Guard<T>(YamlNode node, string what, Func<T?> read)
        where T : class
    {
        try
        {
            return read();
        }
#pragma warning disable CA1031 // The config is outside input: no exception of a reader may reach the reloader.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Error(node, $"cannot read this {what}: {ConfigText.Describe(e)}");
            return null;
        }
    }

    /// <summary>Reports keys that are not in <paramref name="allowed"/>; duplicate keys are rejected by the parser itself.</summary>
    public void CheckKeys(YamlMappingNode map, string where, params string[] allowed)
    {
        foreach (var (keyNode, _) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                Error(keyNode, $"config error, key is not of type string in {where}");
                continue;
            }

            if (Array.IndexOf(allowed, key) < 0)
            {
                Error(keyNode, $"config error, unknown key '{ConfigText.Shown(key)}' in {where} (valid keys: {string.Join(", ", allowed)})");
            }
        }
    }

    public static YamlNode? Get(YamlMappingNode map, string key)
    {
        foreach (var (k, v) in map.Children)
        {
            if (k is YamlScalarNode { Value: { } name } && name == key)
            {
                return IsNull(v) ? null : v;
            }
        }

        return null;
    }

    public static YamlNode? GetKeyNode(YamlMappingNode map, string key)
    {
        foreach (var (k, _) in map.Children)
        {
            if (k is YamlScalarNode { Value: { } name } && name == key)
            {
                return k;
            }
        }

        return null;
    }

    /// <summary>A YAML null (<c>~</c>, <c>null</c> or nothing) counts as absent, as it does for envoyproxy/ratelimit.</summary>
    public static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    public string? String(YamlMappingNode map, string key)
    {
        var node = Get(map, key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlScalarNode scalar)
        {
            return scalar.Value ?? string.Empty;
        }

        Error(node, $"'{key}' must be a string");
        return null;
    }

    public bool? Bool(YamlMappingNode map, string key)
    {
        var node = Get(map, key);
        if (node is null)
        {
            return null;
        }

        // YAML 1.1 booleans, as go-yaml v2 (used by envoyproxy/ratelimit) reads them.
        switch ((node as YamlScalarNode)?.Value?.ToLowerInvariant())
        {
            case "true" or "yes" or "on" or "y":
                return true;
            case "false" or "no" or "off" or "n":
                return false;
            default:
                Error(node, $"'{key}' must be true or false");
                return null;
        }
    }

    public uint? UInt32(YamlMappingNode map, string key)
    {
        var node = Get(map, key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlScalarNode { Value: { } text } &&
            uint.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        Error(node, $"'{key}' must be an integer from 0 to {uint.MaxValue}");
        return null;
    }

    public YamlSequenceNode? Sequence(YamlMappingNode map, string key)
    {
        var node = Get(map, key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlSequenceNode sequence)
        {
            return sequence;
        }

        Error(node, $"'{key}' must be a list");
        return null;
    }

    public YamlMappingNode? Mapping(YamlMappingNode map, string key)
    {
        var node = Get(map, key);
        if (node is null)
        {
            return null;
        }

        if (node is YamlMappingNode mapping)
        {
            return mapping;
        }

        Error(node, $"'{key}' must be a mapping");
        return null;
    }

    /// <summary>Each element of a list that must hold mappings; other elements are reported.</summary>
    public IEnumerable<YamlMappingNode> Mappings(YamlSequenceNode? sequence, string what)
    {
        if (sequence is null)
        {
            yield break;
        }

        foreach (var item in sequence.Children)
        {
            if (item is YamlMappingNode mapping)
            {
                yield return mapping;
            }
            else
            {
                Error(item, $"config error, each {what} must be a mapping");
            }
        }
    }
}
