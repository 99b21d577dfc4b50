using System.Text.Json;
using Sidecars.Authentication;
using Sidecars.Authorization.Services;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Reading a service file's <c>api_keys</c>: where a key is carried, the keys by hash, and the identity each stands for.</summary>
internal static partial class AuthYamlParser
{
    private static ApiKeySet? ParseApiKeySet(YamlReading yaml, YamlMappingNode map, string service)
    {
        yaml.CheckKeys(map, "an API key set", ApiKeySetKeys);
        var name = yaml.String(map, "name");
        if (string.IsNullOrEmpty(name) || !IsServiceName(name))
        {
            yaml.Error(YamlReading.Get(map, "name") ?? map, "an API key set needs a 'name' of letters, digits, '-', '_' and '.'");
            return null;
        }

        var locations = new List<TokenLocation>();
        foreach (var (header, headerName) in HeaderEntries(yaml, map, "from_headers", "a from_headers entry", "name", "value_prefix"))
        {
            locations.Add(new TokenLocation(TokenLocationKind.Header, headerName, yaml.String(header, "value_prefix") ?? string.Empty));
        }

        locations.AddRange(Strings(yaml, map, "from_params").Select(p => new TokenLocation(TokenLocationKind.QueryParameter, p)));
        if (locations.Count == 0)
        {
            yaml.Error(map, $"API key set '{ConfigText.Shown(name)}' needs 'from_headers' or 'from_params': where a request carries its key");
        }

        var keys = new List<ApiKey>();
        foreach (var keyMap in yaml.Mappings(yaml.Sequence(map, "keys"), "entry of 'keys'"))
        {
            yaml.CheckKeys(keyMap, "an API key", "id", "sha256", "claims");
            var id = yaml.String(keyMap, "id");
            var hex = yaml.String(keyMap, "sha256");
            if (string.IsNullOrEmpty(id) || hex is null)
            {
                yaml.Error(keyMap, "an API key needs an 'id' and the 'sha256' of the key (64 hex digits; the key itself never goes in config)");
                continue;
            }

            if (hex.Length != 64 || hex.AsSpan().IndexOfAnyExcept("0123456789abcdefABCDEF") >= 0)
            {
                // Never shown: it may be the key itself pasted by mistake.
                yaml.Error(YamlReading.Get(keyMap, "sha256"), $"API key '{ConfigText.Shown(id)}': 'sha256' must be 64 hex digits (the SHA-256 of the key; run 'sidecars hash-key' to make it)");
                continue;
            }

            var hash = Convert.FromHexString(hex);
            if (keys.Exists(k => k.Id == id) || keys.Exists(k => k.Hash.AsSpan().SequenceEqual(hash)))
            {
                yaml.Error(keyMap, $"API key '{ConfigText.Shown(id)}' repeats an id or a hash of this set");
                continue;
            }

            keys.Add(new ApiKey(id, hash, KeyIdentity(yaml, keyMap, id)));
        }

        if (keys.Count == 0)
        {
            yaml.Error(map, $"API key set '{ConfigText.Shown(name)}' needs at least one entry in 'keys'");
        }

        return new ApiKeySet(service, name, locations, keys, ClaimHeaders(yaml, map), yaml.Bool(map, "forward") ?? false);
    }

    /// <summary>The key's claims as a token's payload: strings, numbers and booleans as YAML gives them, lists of strings; <c>sub</c> defaults to the key's id.</summary>
    private static ValidatedToken KeyIdentity(YamlReading yaml, YamlMappingNode keyMap, string id)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            var hasSub = false;
            if (yaml.Mapping(keyMap, "claims") is { } claims)
            {
                foreach (var (keyNode, valueNode) in claims.Children)
                {
                    if (keyNode is not YamlScalarNode { Value: { Length: > 0 } claim })
                    {
                        yaml.Error(keyNode, "each key of 'claims' must be a claim name");
                        continue;
                    }

                    hasSub |= claim == "sub";
                    writer.WritePropertyName(claim);
                    switch (valueNode)
                    {
                        case YamlScalarNode scalar:
                            WriteScalar(writer, scalar);
                            break;
                        case YamlSequenceNode list:
                            writer.WriteStartArray();
                            foreach (var item in list.Children)
                            {
                                if (item is YamlScalarNode itemScalar)
                                {
                                    writer.WriteStringValue(itemScalar.Value ?? string.Empty);
                                }
                                else
                                {
                                    yaml.Error(item, $"claim '{ConfigText.Shown(claim)}': a list of claims holds strings");
                                }
                            }

                            writer.WriteEndArray();
                            break;
                        default:
                            yaml.Error(valueNode, $"claim '{ConfigText.Shown(claim)}' must be a string, number, boolean or list of strings");
                            writer.WriteNullValue();
                            break;
                    }
                }
            }

            if (!hasSub)
            {
                writer.WriteString("sub", id);
            }

            writer.WriteEndObject();
        }

        var claimsElement = JsonDocument.Parse(buffer.ToArray()).RootElement.Clone();
        return new ValidatedToken("api_key", id, claimsElement, expires: null) { ApiKeyId = id };
    }

    private static void WriteScalar(Utf8JsonWriter writer, YamlScalarNode scalar)
    {
        var text = scalar.Value ?? string.Empty;
        if (scalar.Style == YamlDotNet.Core.ScalarStyle.Plain)
        {
            if (text is "true" or "false")
            {
                writer.WriteBooleanValue(text == "true");
                return;
            }

            if (long.TryParse(text, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var number))
            {
                writer.WriteNumberValue(number);
                return;
            }
        }

        writer.WriteStringValue(text);
    }
}
