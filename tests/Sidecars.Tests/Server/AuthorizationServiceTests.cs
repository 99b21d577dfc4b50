using System.Buffers.Text;
using System.Net;
using Envoy.Service.Auth.V3;
using Grpc.Core;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>ext_authz on the real server: Envoy's Check over gRPC, keys from a real HTTP JWKS endpoint and from local config.</summary>
public sealed class AuthorizationServiceTests
{
    private static string RsaJwks()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    private static string Config(JwksServer jwks) => $$"""
        providers:
          - name: corp
            issuer: https://idp.example.com/
            audiences: [orders-api]
            remote_jwks: { uri: {{jwks.JwksUri}}, cache_duration: 10m }
            forward_payload_header: x-jwt-payload
            claim_to_headers: [{ claim: sub, header: x-user-id }]
            clock_skew: 60s
          - name: partners
            issuer: https://partners.example.com/
            local_jwks: { file: partners-jwks.json }
        routes:
          - name: orders-read
            match: { host: orders.example.com, path_prefix: /orders, methods: [GET, HEAD] }
            requires: { provider: corp, scopes: [orders:read] }
          - name: health
            match: { path: /healthz }
            requires: allow
          - name: api
            match: { path_prefix: /api }
            requires: { any: [{ provider: corp }, { provider: partners }] }
        """;

    private static string PartnersJwks()
    {
        var p = TestTokens.P256.ExportParameters(false);
        return $$"""{"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","x":"{{Base64Url.EncodeToString(p.Q.X)}}","y":"{{Base64Url.EncodeToString(p.Q.Y)}}"}]}""";
    }

    private static CheckRequest Check(string host, string path, string? authorization = null, string method = "GET")
    {
        var http = new AttributeContext.Types.HttpRequest { Method = method, Host = host, Path = path, Scheme = "https", Protocol = "HTTP/2" };
        if (authorization is not null)
        {
            http.Headers["authorization"] = authorization;
        }

        http.Headers["x-user-id"] = "spoofed";
        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }

    private static string Token(string scope, long expOffset = 600) =>
        TestTokens.Rs256($$"""{"iss":"https://idp.example.com/","sub":"user-1","aud":"orders-api","scope":"{{scope}}","iat":{{DateTimeOffset.UtcNow.ToUnixTimeSeconds() - 10}},"exp":{{DateTimeOffset.UtcNow.ToUnixTimeSeconds() + expOffset}}}""");

    private static async Task<(SidecarServer Server, global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient Client, TempConfigDirectory Directory)> Start(JwksServer jwks, bool waitForKeys = true)
    {
        var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Config(jwks));
        File.WriteAllText(Path.Combine(directory.Path, "partners-jwks.json"), PartnersJwks());
        var server = await SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?>
        {
            ["Sidecars:Jwks:MinRefreshInterval"] = "00:00:01",
            ["Sidecars:Jwks:RetryAfterFailure"] = "00:00:01",
            ["Sidecars:Auth:ExposeReason"] = "true", // these tests read the reasons; the default is off
        });
        if (waitForKeys)
        {
            // Readiness waits for the first JWKS fetch, as Envoy's traffic would.
            Assert.True(await Eventually.TrueAsync(async () => (await server.Http.GetAsync("/readyz")).IsSuccessStatusCode));
        }

        return (server, new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(server.Channel()), directory);
    }

    private static string? Header(DeniedHttpResponse response, string name) => response.Headers.FirstOrDefault(h => h.Header.Key == name)?.Header.Value;

    [Fact]
    public async Task Valid_token_with_scope_is_allowed_with_headers_and_metadata()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = RsaJwks();
        var (server, client, directory) = await Start(jwks);
        await using var _ = server;
        using var __ = directory;

        var token = Token("orders:read");
        var response = await client.CheckAsync(Check("orders.example.com", "/orders/1?x=1", "Bearer " + token));

        Assert.Equal(0, response.Status.Code);
        var ok = response.OkResponse;
        Assert.Equal("user-1", ok.Headers.Single(h => h.Header.Key == "x-user-id").Header.Value);
        Assert.Contains(ok.Headers, h => h.Header.Key == "x-jwt-payload");
        Assert.Contains("authorization", ok.HeadersToRemove);
        var jwt = response.DynamicMetadata.Fields["jwt"].StructValue.Fields;
        Assert.Equal(("user-1", "https://idp.example.com/", "corp"), (jwt["sub"].StringValue, jwt["iss"].StringValue, jwt["provider"].StringValue));
        Assert.Equal("orders-read", response.DynamicMetadata.Fields["route"].StringValue);

        // Again, from the token cache: the kept encoded answer reads back as the same message, field for field.
        Assert.Equal(response, await client.CheckAsync(Check("orders.example.com", "/orders/1?x=1", "Bearer " + token)));
    }

    [Fact]
    public async Task Missing_invalid_and_insufficient_tokens_get_401_and_403_like_jwt_authn()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = RsaJwks();
        var (server, client, directory) = await Start(jwks);
        await using var _ = server;
        using var __ = directory;

        var missing = await client.CheckAsync(Check("orders.example.com", "/orders"));
        Assert.Equal(16, missing.Status.Code);
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, missing.DeniedResponse.Status.Code);
        Assert.Equal("Bearer realm=\"orders.example.com\"", Header(missing.DeniedResponse, "www-authenticate"));

        var expired = await client.CheckAsync(Check("orders.example.com", "/orders", "Bearer " + Token("orders:read", expOffset: -3600)));
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, expired.DeniedResponse.Status.Code);
        Assert.Equal("Bearer realm=\"orders.example.com\", error=\"invalid_token\", error_description=\"token is expired\"", Header(expired.DeniedResponse, "www-authenticate"));
        Assert.Equal("token is expired", Header(expired.DeniedResponse, "x-ext-authz-reason"));

        var scope = await client.CheckAsync(Check("orders.example.com", "/orders", "Bearer " + Token("orders:write")));
        Assert.Equal(7, scope.Status.Code);
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Forbidden, scope.DeniedResponse.Status.Code);
        Assert.Contains("error=\"insufficient_scope\"", Header(scope.DeniedResponse, "www-authenticate"), StringComparison.Ordinal);

        var noRoute = await client.CheckAsync(Check("orders.example.com", "/unknown"));
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Forbidden, noRoute.DeniedResponse.Status.Code);
        Assert.Equal("no route matches this request", Header(noRoute.DeniedResponse, "x-ext-authz-reason"));

        Assert.Equal(0, (await client.CheckAsync(Check("any.example.com", "/healthz"))).Status.Code);
    }

    [Fact]
    public async Task Any_accepts_a_local_jwks_provider()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = RsaJwks();
        var (server, client, directory) = await Start(jwks);
        await using var _ = server;
        using var __ = directory;
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var partner = TestTokens.Sign("""{"alg":"ES256","kid":"ec-1"}""", $$"""{"iss":"https://partners.example.com/","sub":"p-9","exp":{{now + 600}}}""", "ES256");
        var response = await client.CheckAsync(Check("api.example.com", "/api/v1", "Bearer " + partner));
        Assert.Equal(0, response.Status.Code);
        Assert.Equal("partners", response.DynamicMetadata.Fields["jwt"].StructValue.Fields["provider"].StringValue);
    }

    [Fact]
    public async Task Jwks_down_at_start_is_not_ready_and_denies_with_a_clear_reason()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Status = 503;
        var (server, client, directory) = await Start(jwks, waitForKeys: false);
        await using var _ = server;
        using var __ = directory;

        Assert.True(await Eventually.TrueAsync(async () => (await server.Http.GetAsync("/readyz")).StatusCode == HttpStatusCode.ServiceUnavailable));
        // Until the first fetch has failed the deny cannot say why; once it has, it names the failure. Every
        // answer in between is a 401 that says the keys are not there yet.
        string? reason = null;
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            var denied = await client.CheckAsync(Check("orders.example.com", "/orders", "Bearer " + Token("orders:read")));
            Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, denied.DeniedResponse.Status.Code);
            reason = Header(denied.DeniedResponse, "x-ext-authz-reason");
            Assert.StartsWith("keys for provider 'corp' not available yet", reason);
            return reason!.EndsWith(": HTTP 503", StringComparison.Ordinal);
        }));
        Assert.Equal("keys for provider 'corp' not available yet: HTTP 503", reason);

        // The endpoint recovers: the unknown kid asks for a refresh, and the next request is allowed.
        jwks.Status = 200;
        jwks.Body = RsaJwks();
        Assert.True(await Eventually.TrueAsync(async () =>
            (await client.CheckAsync(Check("orders.example.com", "/orders", "Bearer " + Token("orders:read")))).Status.Code == 0, TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Garbage_in_the_authorization_header_always_gets_a_well_formed_deny()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = RsaJwks();
        var (server, client, directory) = await Start(jwks);
        await using var _ = server;
        using var __ = directory;
        var random = new Random(4242);
        var inputs = new List<string> { "Bearer " + new string('a', 100_000), "Bearer a.b.c.d.e", "Bearer ...", "Bearer " + Token("orders:read")[..^5] + "AAAAA" };
        for (var i = 0; i < 150; i++)
        {
            var bytes = new byte[random.Next(1, 300)];
            random.NextBytes(bytes);
            inputs.Add("Bearer " + string.Concat(bytes.Select(b => b < 32 ? 'x' : (char)b)));
        }

        foreach (var input in inputs)
        {
            var response = await client.CheckAsync(Check("orders.example.com", "/orders", input));
            Assert.Equal(16, response.Status.Code);
            Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, response.DeniedResponse.Status.Code);
        }

        // Non-UTF-8 bytes arrive through header_map's raw_value.
        var raw = Check("orders.example.com", "/orders");
        raw.Attributes.Request.Http.HeaderMap = new global::Envoy.Config.Core.V3.HeaderMap();
        raw.Attributes.Request.Http.HeaderMap.Headers.Add(new global::Envoy.Config.Core.V3.HeaderValue { Key = "authorization", RawValue = Google.Protobuf.ByteString.CopyFrom([0x42, 0x65, 0x61, 0x72, 0x65, 0x72, 0x20, 0xC3, 0x28, 0xFF]) });
        Assert.Equal(16, (await client.CheckAsync(raw)).Status.Code);

        // An empty request is a deny too, not an RPC error.
        Assert.Equal(7, (await client.CheckAsync(new CheckRequest())).Status.Code);
    }
}
