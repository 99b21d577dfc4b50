using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Sidecars.Authentication;
using Sidecars.Authorization.Config;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Server.Tools;

/// <summary>
/// A request as a test case or <c>sidecars explain</c> states it, turned into the CheckRequest Envoy would send.
/// A <c>token: {provider, claims}</c> is signed with a key this run generated and made the provider's only key
/// (so no identity provider is needed); an <c>api_key: {id}</c> is a fresh key made to stand for that key id.
/// </summary>
internal sealed class PolicyRequestBuilder
{
    private const string KeyId = "sidecars-test";
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly ConfigSnapshot _snapshot;
    private readonly DateTimeOffset _now;

    public PolicyRequestBuilder(ConfigSnapshot snapshot, DateTimeOffset now)
    {
        _snapshot = snapshot;
        _now = now;
        var key = SigningKey.FromRsa(KeyId, _rsa.ExportParameters(false), "RS256");
        foreach (var provider in snapshot.Auth.Providers.Values)
        {
            provider.Provider.SetKeys([key]);
        }
    }

    private static readonly string[] RequestKeys = ["method", "host", "path", "headers", "source_ip", "principal", "context", "token", "api_key"];

    /// <summary>The CheckRequest for <paramref name="map"/>, or null with the problem in <paramref name="error"/>.</summary>
    public CheckRequest? Build(YamlMappingNode map, out string? error)
    {
        error = null;
        foreach (var (key, _) in map.Children)
        {
            if (key is YamlScalarNode { Value: { } name } && Array.IndexOf(RequestKeys, name) < 0)
            {
                error = $"unknown key '{ConfigText.Shown(name)}' in a request (valid: {string.Join(", ", RequestKeys)})";
                return null;
            }
        }

        var host = Scalar(map, "host");
        if (string.IsNullOrEmpty(host))
        {
            error = "a request needs a 'host'";
            return null;
        }

        var method = Scalar(map, "method") ?? "GET";
        var path = Scalar(map, "path") ?? "/";
        var http = new AttributeContext.Types.HttpRequest { Method = method, Host = host, Path = path, Scheme = "https", Protocol = "HTTP/1.1" };
        http.Headers[":authority"] = host;
        http.Headers[":method"] = method;
        http.Headers[":path"] = path;
        foreach (var (name, value) in Pairs(map, "headers"))
        {
            http.Headers[name.ToLowerInvariant()] = value;
        }

        var attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } };
        var source = Scalar(map, "source_ip");
        var principal = Scalar(map, "principal");
        if (source is not null || principal is not null)
        {
            attributes.Source = new AttributeContext.Types.Peer { Principal = principal ?? string.Empty };
            if (source is not null)
            {
                attributes.Source.Address = new Address { SocketAddress = new SocketAddress { Address = source, PortValue = 50000 } };
            }
        }

        foreach (var (key, value) in Pairs(map, "context"))
        {
            attributes.ContextExtensions[key] = value;
        }

        if (Get(map, "token") is YamlMappingNode token && !AddToken(token, http, out error))
        {
            return null;
        }

        if (Get(map, "api_key") is { } apiKey && !AddApiKey(apiKey, http, out error))
        {
            return null;
        }

        return new CheckRequest { Attributes = attributes };
    }

    private bool AddToken(YamlMappingNode token, AttributeContext.Types.HttpRequest http, out string? error)
    {
        error = null;
        var name = Scalar(token, "provider");
        if (name is null || !_snapshot.Auth.Providers.TryGetValue(name, out var provider))
        {
            error = $"token names provider '{ConfigText.Shown(name)}', which the config does not define";
            return false;
        }

        var options = provider.Provider.Options;
        var header = JsonSerializer.Serialize(new Dictionary<string, string> { ["alg"] = "RS256", ["typ"] = options.RequiredType ?? "JWT", ["kid"] = KeyId }, ToolJson.Default.DictionaryStringString);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            var claims = Get(token, "claims") as YamlMappingNode;
            var given = claims?.Children.Keys.OfType<YamlScalarNode>().Select(k => k.Value).ToHashSet(StringComparer.Ordinal) ?? [];
            if (options.Issuer is { } issuer && !given.Contains("iss"))
            {
                writer.WriteString("iss", issuer);
            }

            var audience = provider.Audiences is { Count: > 0 } audiences ? audiences[0] : options.Audiences.Count > 0 ? options.Audiences[0] : null;
            if (audience is not null && !given.Contains("aud"))
            {
                writer.WriteString("aud", audience);
            }

            if (!given.Contains("iat"))
            {
                writer.WriteNumber("iat", _now.ToUnixTimeSeconds() - 60);
            }

            if (!given.Contains("exp"))
            {
                writer.WriteNumber("exp", _now.ToUnixTimeSeconds() + 600);
            }

            foreach (var (key, value) in claims?.Children ?? Enumerable.Empty<KeyValuePair<YamlNode, YamlNode>>())
            {
                writer.WritePropertyName(((YamlScalarNode)key).Value!);
                WriteValue(writer, value);
            }

            writer.WriteEndObject();
        }

        var input = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(header)) + "." + Base64Url.EncodeToString(buffer.ToArray());
        var signature = _rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var jwt = input + "." + Base64Url.EncodeToString(signature);
        Place(provider.Provider.Locations[0], jwt, http);
        return true;
    }

    private bool AddApiKey(YamlNode node, AttributeContext.Types.HttpRequest http, out string? error)
    {
        error = null;
        var id = node is YamlMappingNode map ? Scalar(map, "id") : null;
        if (id is null)
        {
            error = "'api_key' takes { id: KEY_ID }: the id of a key in the config (the runner makes a key that stands for it)";
            return false;
        }

        foreach (var set in _snapshot.Auth.Services.ApiKeySets.Values)
        {
            if (set.TrustForTesting(id) is { } key)
            {
                Place(set.Locations[0], key, http);
                return true;
            }
        }

        error = $"api_key id '{ConfigText.Shown(id)}' is not a key of any API key set in the config";
        return false;
    }

    private static void Place(TokenLocation location, string value, AttributeContext.Types.HttpRequest http)
    {
        switch (location.Kind)
        {
            case TokenLocationKind.Header:
                http.Headers[location.Name] = location.Prefix + value;
                break;
            case TokenLocationKind.QueryParameter:
                http.Path += (http.Path.Contains('?', StringComparison.Ordinal) ? "&" : "?") + location.Name + "=" + value;
                http.Headers[":path"] = http.Path;
                break;
            default:
                http.Headers["cookie"] = location.Name + "=" + value;
                break;
        }
    }

    private static void WriteValue(Utf8JsonWriter writer, YamlNode value)
    {
        switch (value)
        {
            case YamlSequenceNode list:
                writer.WriteStartArray();
                foreach (var item in list.Children)
                {
                    WriteValue(writer, item);
                }

                writer.WriteEndArray();
                break;
            case YamlMappingNode map:
                writer.WriteStartObject();
                foreach (var (k, v) in map.Children)
                {
                    writer.WritePropertyName(((YamlScalarNode)k).Value ?? string.Empty);
                    WriteValue(writer, v);
                }

                writer.WriteEndObject();
                break;
            case YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain, Value: "true" or "false" } boolean:
                writer.WriteBooleanValue(boolean.Value == "true");
                break;
            case YamlScalarNode { Style: YamlDotNet.Core.ScalarStyle.Plain } number when long.TryParse(number.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var n):
                writer.WriteNumberValue(n);
                break;
            case YamlScalarNode scalar:
                writer.WriteStringValue(scalar.Value ?? string.Empty);
                break;
        }
    }

    internal static YamlNode? Get(YamlMappingNode map, string key) =>
        map.Children.FirstOrDefault(p => p.Key is YamlScalarNode { Value: { } name } && name == key).Value;

    internal static string? Scalar(YamlMappingNode map, string key) => Get(map, key) is YamlScalarNode { Value: { } value } ? value : null;

    internal static IEnumerable<(string Key, string Value)> Pairs(YamlMappingNode map, string key) =>
        Get(map, key) is YamlMappingNode pairs
            ? pairs.Children.Where(p => p.Key is YamlScalarNode && p.Value is YamlScalarNode).Select(p => (((YamlScalarNode)p.Key).Value ?? string.Empty, ((YamlScalarNode)p.Value).Value ?? string.Empty))
            : [];
}

/// <summary>Source-generated JSON for the tools (AOT: no reflection).</summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class ToolJson : System.Text.Json.Serialization.JsonSerializerContext;
