using Sidecars.Authentication;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Authorization.Config;

/// <summary>Reading a provider: validation options, token locations, key source, what the upstream receives.</summary>
internal static partial class AuthYamlParser
{
    private static readonly string[] ProviderKeys =
    [
        "name", "issuer", "audiences", "remote_jwks", "discovery", "local_jwks", "from_headers", "from_params", "from_cookies",
        "forward", "forward_payload_header", "claim_to_headers", "clock_skew", "require_expiration", "max_lifetime", "typ", "max_token_size",
    ];

    /// <summary>A day: beyond it <c>exp</c> means nothing, and <c>exp</c> plus the skew must stay a valid date.</summary>
    private static readonly TimeSpan MaxClockSkew = TimeSpan.FromHours(24);

    /// <summary>The largest token accepted (issue 7: a configurable cap, 1 byte to 1 MiB).</summary>
    private const uint MaxTokenSizeLimit = 1024 * 1024;

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
            ClockSkew = Duration(yaml, map, "clock_skew", TimeSpan.Zero, MaxClockSkew) ?? TimeSpan.FromSeconds(60),
            RequireExpiration = yaml.Bool(map, "require_expiration") ?? true,
            MaxLifetime = Duration(yaml, map, "max_lifetime", TimeSpan.FromSeconds(1), ConfigLimits.MaxDuration),
            RequiredType = yaml.String(map, "typ"),
            MaxTokenLength = MaxTokenSize(yaml, map),
        };

        var locations = new List<TokenLocation>();
        foreach (var (header, headerName) in HeaderEntries(yaml, map, "from_headers", "a from_headers entry", "name", "value_prefix"))
        {
            locations.Add(new TokenLocation(TokenLocationKind.Header, headerName, yaml.String(header, "value_prefix") ?? string.Empty));
        }

        locations.AddRange(Strings(yaml, map, "from_params").Select(p => new TokenLocation(TokenLocationKind.QueryParameter, p)));
        locations.AddRange(Strings(yaml, map, "from_cookies").Select(c => new TokenLocation(TokenLocationKind.Cookie, c)));

        var claimHeaders = ClaimHeaders(yaml, map);

        return new ProviderPolicy(
            new JwtProvider(name, options, locations),
            keys,
            yaml.Bool(map, "forward") ?? false,
            HeaderName(yaml, map, "forward_payload_header"),
            claimHeaders,
            Strings(yaml, map, "audiences"));
    }

    /// <summary>A provider's (or an API key set's) <c>claim_to_headers</c>.</summary>
    private static List<ClaimHeader> ClaimHeaders(YamlReading yaml, YamlMappingNode map)
    {
        var claimHeaders = new List<ClaimHeader>();
        foreach (var entry in yaml.Mappings(yaml.Sequence(map, "claim_to_headers"), "entry of 'claim_to_headers'"))
        {
            yaml.CheckKeys(entry, "a claim_to_headers entry", "claim", "header");
            var claim = yaml.String(entry, "claim");
            if (string.IsNullOrEmpty(claim) || YamlReading.Get(entry, "header") is null)
            {
                yaml.Error(entry, "a claim_to_headers entry needs 'claim' and 'header'");
                continue;
            }

            if (HeaderName(yaml, entry, "header") is { } header)
            {
                claimHeaders.Add(new ClaimHeader(claim, header));
            }
        }

        return claimHeaders;
    }

    private static int MaxTokenSize(YamlReading yaml, YamlMappingNode map)
    {
        var size = yaml.UInt32(map, "max_token_size");
        if (size is 0 or > MaxTokenSizeLimit)
        {
            yaml.Error(YamlReading.Get(map, "max_token_size"), $"'max_token_size' must be from 1 to {MaxTokenSizeLimit} bytes");
        }

        return (int)Math.Clamp(size ?? 8 * 1024, 1, MaxTokenSizeLimit);
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
            if (uri is null)
            {
                yaml.Error(remote, "remote_jwks needs an https 'uri'");
            }
            else if (JwksUriPolicy.Check(uri) is { } why)
            {
                // Keys decide who is authenticated: https only, plain http to loopback (issue 7, finding 7).
                yaml.Error(YamlReading.Get(remote, "uri"), $"remote_jwks 'uri': {why}");
            }

            return new KeySource(RemoteUri: uri, CacheDuration: Duration(yaml, remote, "cache_duration", TimeSpan.FromSeconds(1), ConfigLimits.MaxDuration) ?? TimeSpan.FromMinutes(5));
        }

        if (discovery is not null)
        {
            if (JwksUriPolicy.Check(discovery) is { } why)
            {
                yaml.Error(YamlReading.Get(map, "discovery"), $"'discovery': {why}");
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
}
