using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Authorization.Config;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Tests.Authorization;

/// <summary>The providers/routes YAML (not yet loaded by the server): the model it compiles to, and its located errors.</summary>
public sealed class AuthConfigTests
{
    private const string Example = """
        providers:
          - name: corp
            issuer: https://idp.example.com/
            audiences: [orders-api]
            remote_jwks: { uri: https://idp.example.com/.well-known/jwks.json, cache_duration: 10m }
            from_headers: [{ name: Authorization, value_prefix: "Bearer " }]
            from_params: [access_token]
            forward: false
            forward_payload_header: x-jwt-payload
            claim_to_headers: [{ claim: sub, header: x-user-id }]
            clock_skew: 30s
            require_expiration: true
            max_lifetime: 24h
            max_token_size: 4096
          - name: partners
            discovery: https://partners.example.com/.well-known/openid-configuration
        routes:
          - name: orders-read
            match: { host: orders.example.com, path_prefix: /orders, methods: [get, HEAD] }
            requires: { provider: corp, scopes: [orders:read], claims: { tier: [gold, silver] } }
          - match: { path: /healthz }
            requires: allow
          - match: { path_regex: "/admin/[0-9]+", headers: [{ name: X-Admin }] }
            requires: { all: [{ provider: corp, audiences: [admin-api] }, { provider: partners }] }
          - match: { path_prefix: / }
            requires: { any: [{ provider: corp }, { provider: partners, allow_missing: true }] }
        default: allow
        """;

    private static (AuthPolicy? Policy, IReadOnlyList<string> Errors) Load(params (string File, string Yaml)[] files)
    {
        var diagnostics = new ConfigDiagnostics();
        var definitions = new List<AuthYamlParser.FileDefinition>();
        foreach (var (file, yaml) in files)
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            definitions.Add(AuthYamlParser.Parse(new YamlReading(file, diagnostics), (YamlMappingNode)stream.Documents[0].RootNode));
        }

        var policy = AuthYamlParser.Compile(definitions, diagnostics);
        return (diagnostics.HasErrors ? null : policy, diagnostics.Errors.Select(e => e.ToString()).ToList());
    }

    [Fact]
    public void The_documented_example_compiles_to_the_expected_policy()
    {
        var (policy, errors) = Load(("auth.yaml", Example));
        Assert.Empty(errors);
        Assert.True(policy!.DefaultAllow);

        var corp = policy.Providers["corp"];
        Assert.Equal("https://idp.example.com/.well-known/jwks.json", corp.Keys.RemoteUri);
        Assert.Equal(TimeSpan.FromMinutes(10), corp.Keys.CacheDuration);
        Assert.Equal(TimeSpan.FromSeconds(30), corp.Provider.Options.ClockSkew);
        Assert.Equal(TimeSpan.FromHours(24), corp.Provider.Options.MaxLifetime);
        Assert.Equal(4096, corp.Provider.Options.MaxTokenLength);
        Assert.Equal(8192, policy.Providers["partners"].Provider.Options.MaxTokenLength);
        Assert.Equal(["orders-api"], corp.Audiences);
        Assert.Equal(
            [new TokenLocation(TokenLocationKind.Header, "authorization", "Bearer "), new TokenLocation(TokenLocationKind.QueryParameter, "access_token")],
            corp.Provider.Locations);
        Assert.Equal("x-jwt-payload", corp.ForwardPayloadHeader);
        Assert.Equal(new ClaimHeader("sub", "x-user-id"), Assert.Single(corp.ClaimToHeaders));
        Assert.Equal("https://partners.example.com/.well-known/openid-configuration", policy.Providers["partners"].Keys.DiscoveryUri);
        Assert.Equal([TokenLocation.BearerHeader], policy.Providers["partners"].Provider.Locations);

        Assert.Equal(["orders-read", "auth.yaml#2", "auth.yaml#3", "auth.yaml#4"], policy.Routes.Select(r => r.Name));
        Assert.Equal(["GET", "HEAD"], policy.Routes[0].Match.Methods);
        var orders = Assert.IsType<ProviderRequirement>(policy.Routes[0].Requires);
        Assert.Equal(["orders:read"], orders.Scopes);
        Assert.Equal(["gold", "silver"], Assert.Single(orders.Claims!).Values);
        Assert.Same(Requirement.Allow, policy.Routes[1].Requires);
        Assert.Matches(policy.Routes[2].Match.PathRegex!, "/admin/12");
        Assert.DoesNotMatch(policy.Routes[2].Match.PathRegex!, "/admin/12/x");
        Assert.Equal("x-admin", policy.Routes[2].Match.Headers[0].Name);
        var any = Assert.IsType<AnyRequirement>(policy.Routes[3].Requires);
        Assert.True(Assert.IsType<ProviderRequirement>(any.Options[1]).AllowMissing);
    }

    [Theory]
    [InlineData("providers:\n  - name: p\n    discovery: https://i/\n    jwks: x\n", "a.yaml:4:5: config error, unknown key 'jwks' in a provider (valid keys: name, issuer, audiences, remote_jwks, discovery, local_jwks, from_headers, from_params, from_cookies, forward, forward_payload_header, claim_to_headers, clock_skew, require_expiration, max_lifetime, typ, max_token_size)")]
    [InlineData("providers:\n  - name: p\n", "a.yaml:2:5: a provider needs exactly one of 'remote_jwks', 'discovery' or 'local_jwks'")]
    [InlineData("providers:\n  - name: p\n    discovery: https://x/\n    local_jwks: { inline: '{}' }\n", "a.yaml:2:5: a provider needs exactly one of 'remote_jwks', 'discovery' or 'local_jwks'")]
    [InlineData("providers:\n  - name: p\n    remote_jwks: { uri: ftp://x/keys }\n", "a.yaml:3:25: remote_jwks 'uri': the URI must be https")]
    [InlineData("providers:\n  - name: p\n    remote_jwks: { uri: http://idp.example.com/keys }\n", "a.yaml:3:25: remote_jwks 'uri': https is required (plain http only to a loopback host)")]
    [InlineData("providers:\n  - name: p\n    discovery: http://idp.example.com\n", "a.yaml:3:16: 'discovery': https is required (plain http only to a loopback host)")]
    [InlineData("providers:\n  - name: p\n    discovery: https://x/\n    clock_skew: 1 minute\n", "a.yaml:4:17: 'clock_skew' must be a duration such as 500ms, 60s, 10m or 24h")]
    [InlineData("routes:\n  - match: { path_prefix: / }\n    requires: { provider: ghost }\n", "a.yaml:2:5: route 'a.yaml#1' requires unknown provider 'ghost'")]
    [InlineData("routes:\n  - match: { path: /a, path_prefix: /a }\n    requires: allow\n", "a.yaml:2:12: a route match takes one of 'path', 'path_prefix' or 'path_regex'")]
    [InlineData("routes:\n  - match: { path_regex: '(' }\n    requires: allow\n", "a.yaml:2:26: invalid path_regex at character 1: insufficient closing parentheses")]
    [InlineData("routes:\n  - match: { path: /a }\n    requires: maybe\n", "a.yaml:3:15: invalid requirement 'maybe' (valid: allow, deny, or a mapping)")]
    [InlineData("routes:\n  - match: { path: /a }\n    requires: { provider: p, any: [allow] }\n", "a.yaml:3:15: a requirement has exactly one of 'provider', 'api_key', 'any' or 'all'")]
    [InlineData("routes:\n  - match: { path: /a }\n", "a.yaml:2:5: a route needs 'requires'")]
    [InlineData("default: maybe\n", "a.yaml:1:10: invalid default 'maybe' (valid: allow, deny)")]
    public void Bad_authorization_config_is_reported_with_file_line_and_column(string yaml, string error)
    {
        var (policy, errors) = Load(("a.yaml", yaml));
        Assert.Null(policy);
        Assert.Equal(error, Assert.Single(errors));
    }

    [Fact]
    public void A_provider_name_belongs_to_one_file()
    {
        const string provider = "providers:\n  - name: corp\n    discovery: https://idp/\n";
        var (_, errors) = Load(("a.yaml", provider), ("b.yaml", provider));
        Assert.Equal("b.yaml:2:5: provider 'corp' is already defined in a.yaml", Assert.Single(errors));
    }

    [Fact]
    public void Default_is_set_by_one_file_only()
    {
        var (_, errors) = Load(("a.yaml", "default: allow\n"), ("b.yaml", "default: deny\n"));
        Assert.Equal("b.yaml:1:10: 'default' is already set in a.yaml", Assert.Single(errors));
    }

    [Fact]
    public void Routes_from_several_files_keep_file_then_declared_order()
    {
        var (policy, errors) = Load(
            ("a.yaml", "routes:\n  - name: a1\n    match: { path: /1 }\n    requires: allow\n  - name: a2\n    match: { path: /2 }\n    requires: deny\n"),
            ("b.yaml", "routes:\n  - name: b1\n    match: { path: /1 }\n    requires: deny\n"));
        Assert.Empty(errors);
        Assert.Equal(["a1", "a2", "b1"], policy!.Routes.Select(r => r.Name));
    }
}
