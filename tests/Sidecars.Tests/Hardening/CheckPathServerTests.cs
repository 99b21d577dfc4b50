using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Envoy.Service.Auth.V3;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, findings 1, 2, 8 and 9 on the real server over loopback: every Check ends as a CheckResponse
/// whatever the token, configured claim headers never pass through from the client, hostile claim values never
/// reach a header, and reasons stay out of responses unless asked for.
/// </summary>
public sealed class CheckPathServerTests
{
    private static string RsaJwks()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    private static string EcJwks()
    {
        var p = TestTokens.P256.ExportParameters(false);
        return $$"""{"keys":[{"kty":"EC","kid":"ec-1","crv":"P-256","x":"{{Base64Url.EncodeToString(p.Q.X)}}","y":"{{Base64Url.EncodeToString(p.Q.Y)}}"}]}""";
    }

    private static string Config(string defaultAnswer = "allow") => $$"""
        providers:
          - name: corp
            issuer: https://idp.example.com/
            local_jwks: { inline: '{{RsaJwks()}}' }
            forward_payload_header: x-jwt-payload
            claim_to_headers: [{ claim: sub, header: x-user-id }, { claim: tenant, header: x-tenant }]
          - name: partners
            issuer: https://partners.example.com/
            local_jwks: { inline: '{{EcJwks()}}' }
            claim_to_headers: [{ claim: sub, header: x-partner-id }]
        routes:
          - name: open
            match: { path_prefix: /open }
            requires: allow
          - name: optional
            match: { path_prefix: /optional }
            requires: { provider: corp, allow_missing: true }
          - name: either
            match: { path_prefix: /either }
            requires: { any: [{ provider: corp }, { provider: partners }] }
          - name: orders
            match: { path_prefix: /orders }
            requires: { provider: corp, scopes: [orders:read] }
        default: {{defaultAnswer}}
        """;

    private static async Task<(SidecarServer Server, global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient Client, TempConfigDirectory Directory)> Start(IDictionary<string, string?>? settings = null)
    {
        var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Config());
        var server = await SidecarServer.StartAsync(directory.Path, settings: settings);
        Assert.True(await Eventually.TrueAsync(async () => (await server.Http.GetAsync("/readyz")).IsSuccessStatusCode));
        return (server, new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(server.Channel()), directory);
    }

    private static CheckRequest Check(string path, string? authorization = null)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "api.example.com", Path = path, Scheme = "https", Protocol = "HTTP/2" };
        if (authorization is not null)
        {
            http.Headers["authorization"] = authorization;
        }

        // What a client would send to impersonate someone.
        http.Headers["x-user-id"] = "admin";
        http.Headers["x-tenant"] = "root";
        http.Headers["x-partner-id"] = "admin";
        http.Headers["x-jwt-payload"] = "e30";
        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    private static string CorpClaims(string extra = "") =>
        $$"""{"iss":"https://idp.example.com/","sub":"user-1","scope":"orders:read","iat":{{Now - 10}},"exp":{{Now + 600}}{{extra}}}""";

    private static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    /// <summary>An RS256 token over exactly these header and payload bytes (they need not be valid UTF-8).</summary>
    private static string SignBytes(byte[] header, byte[] payload)
    {
        var input = B64(header) + "." + B64(payload);
        return input + "." + B64(TestTokens.Rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    private static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    private static byte[] WithRawByte(string text, char marker, byte raw) => [.. Utf8(text).Select(b => b == (byte)marker ? raw : b)];

    /// <summary>Hostile tokens, by what is wrong with them; the escapes are JSON text (\ud800 is a lone surrogate).</summary>
    public static TheoryData<string> HostileTokens() => new()
    {
        "alg lone surrogate",
        "kid lone surrogate",
        "typ lone surrogate",
        "alg raw 0xFF",
        "kid raw 0xFF",
        "scope lone surrogate",
        "sub lone surrogate",
        "claim name lone surrogate",
        "sub raw 0xFF",
        "exp at the end of year 9999",
        "nbf at the end of year 9999",
        "iat at the end of year 9999",
        "huge number claim",
        "deep nesting",
    };

    private static string Hostile(string name)
    {
        const string rs = """{"alg":"RS256","kid":"rsa-1"}""";
        return name switch
        {
            "alg lone surrogate" => TestTokens.B64("""{"alg":"\ud800"}""") + "." + TestTokens.B64(CorpClaims()) + ".c2ln",
            "kid lone surrogate" => SignBytes(Utf8("""{"alg":"RS256","kid":"\ud800"}"""), Utf8(CorpClaims())),
            "typ lone surrogate" => SignBytes(Utf8("""{"alg":"RS256","kid":"rsa-1","typ":"\udfff"}"""), Utf8(CorpClaims())),
            "alg raw 0xFF" => SignBytes(WithRawByte("""{"alg":"RS25#"}""", '#', 0xFF), Utf8(CorpClaims())),
            "kid raw 0xFF" => SignBytes(WithRawByte("""{"alg":"RS256","kid":"#"}""", '#', 0xFF), Utf8(CorpClaims())),
            "scope lone surrogate" => SignBytes(Utf8(rs), Utf8(CorpClaims().Replace("orders:read", "orders:read \\ud800", StringComparison.Ordinal))),
            "sub lone surrogate" => SignBytes(Utf8(rs), Utf8(CorpClaims().Replace("user-1", "\\ud800", StringComparison.Ordinal))),
            "claim name lone surrogate" => SignBytes(Utf8(rs), Utf8(CorpClaims(""","\ud800x":1"""))),
            "sub raw 0xFF" => SignBytes(Utf8(rs), WithRawByte(CorpClaims().Replace("user-1", "user-#", StringComparison.Ordinal), '#', 0xFF)),
            "exp at the end of year 9999" => SignBytes(Utf8(rs), Utf8($$"""{"iss":"https://idp.example.com/","sub":"u","scope":"orders:read","exp":253402300790}""")),
            "nbf at the end of year 9999" => SignBytes(Utf8(rs), Utf8(CorpClaims(""","nbf":253402300799"""))),
            "iat at the end of year 9999" => SignBytes(Utf8(rs), Utf8($$"""{"iss":"https://idp.example.com/","sub":"u","scope":"orders:read","iat":253402300799,"exp":253402300799}""")),
            "huge number claim" => SignBytes(Utf8(rs), Utf8(CorpClaims(""","n":1e400,"m":-1e999"""))),
            "deep nesting" => SignBytes(Utf8(rs), Utf8(CorpClaims(",\"d\":" + new string('[', 60) + new string(']', 60)))),
            _ => throw new ArgumentOutOfRangeException(nameof(name)),
        };
    }

    [Theory]
    [MemberData(nameof(HostileTokens))]
    public async Task Hostile_token_gets_a_deny_check_response_not_an_rpc_error(string name)
    {
        var (server, client, directory) = await Start();
        await using var _ = server;
        using var __ = directory;

        // A far exp is a valid token (no max_lifetime here): the point is an answer, not an overflow.
        var valid = name == "exp at the end of year 9999";
        var token = Hostile(name);
        foreach (var path in (string[])["/orders/1", "/optional", "/either", "/orders/1"])
        {
            var response = await client.CheckAsync(Check(path, "Bearer " + token));
            if (valid)
            {
                Assert.Equal(0, response.Status.Code);
                Assert.Contains("x-tenant", response.OkResponse.HeadersToRemove);
            }
            else
            {
                Assert.True(response.Status.Code is 16 or 7, $"{name} on {path}: status {response.Status.Code}");
                Assert.NotNull(response.DeniedResponse);
            }
        }

        // A normal client keeps getting right answers.
        Assert.Equal(0, (await client.CheckAsync(Check("/orders/1", "Bearer " + SignBytes(Utf8("""{"alg":"RS256","kid":"rsa-1"}"""), Utf8(CorpClaims()))))).Status.Code);
    }

    [Theory]
    [InlineData("/open", null)]
    [InlineData("/nothing-matches", null)]
    [InlineData("/optional", null)]
    [InlineData("/either", "partner")]
    public async Task Client_sent_claim_headers_are_removed_when_no_provider_or_another_provider_decided(string path, string? token)
    {
        var (server, client, directory) = await Start();
        await using var _ = server;
        using var __ = directory;
        var partner = TestTokens.Sign("""{"alg":"ES256","kid":"ec-1"}""", $$"""{"iss":"https://partners.example.com/","sub":"p-9","exp":{{Now + 600}}}""", "ES256");

        var response = await client.CheckAsync(Check(path, token is null ? null : "Bearer " + partner));

        Assert.Equal(0, response.Status.Code);
        var ok = response.OkResponse;
        Assert.Contains("x-user-id", ok.HeadersToRemove);
        Assert.Contains("x-tenant", ok.HeadersToRemove);
        Assert.Contains("x-jwt-payload", ok.HeadersToRemove);
        if (token is null)
        {
            Assert.Contains("x-partner-id", ok.HeadersToRemove);
            Assert.Empty(ok.Headers);
        }
        else
        {
            Assert.Equal("p-9", ok.Headers.Single(h => h.Header.Key == "x-partner-id").Header.Value);
            Assert.DoesNotContain("x-partner-id", ok.HeadersToRemove);
        }
    }

    [Fact]
    public async Task Winning_provider_sets_its_headers_and_the_other_providers_headers_are_removed()
    {
        var (server, client, directory) = await Start();
        await using var _ = server;
        using var __ = directory;

        var response = await client.CheckAsync(Check("/either", "Bearer " + TestTokens.Sign("""{"alg":"RS256","kid":"rsa-1"}""", CorpClaims(), "RS256")));

        var ok = response.OkResponse;
        Assert.Equal("user-1", ok.Headers.Single(h => h.Header.Key == "x-user-id").Header.Value);
        Assert.Contains(ok.Headers, h => h.Header.Key == "x-jwt-payload");
        Assert.Contains("x-partner-id", ok.HeadersToRemove);
        Assert.Contains("x-tenant", ok.HeadersToRemove); // the token has no tenant claim
        Assert.DoesNotContain("x-user-id", ok.HeadersToRemove);
    }

    [Theory]
    [InlineData("a\\r\\nx-admin: 1")]
    [InlineData("a\\nb")]
    [InlineData("a\\u0000b")]
    [InlineData("a\\tb")]
    [InlineData("a\\u007fb")]
    [InlineData("a\\u0085b")]
    public async Task Claim_value_with_a_control_character_is_denied_and_never_forwarded(string escapedSub)
    {
        var (server, client, directory) = await Start();
        await using var _ = server;
        using var __ = directory;

        var token = TestTokens.Sign("""{"alg":"RS256","kid":"rsa-1"}""", CorpClaims().Replace("user-1", escapedSub, StringComparison.Ordinal), "RS256");
        var response = await client.CheckAsync(Check("/orders/1", "Bearer " + token));

        Assert.Equal(7, response.Status.Code);
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Forbidden, response.DeniedResponse.Status.Code);
        Assert.Contains("x-user-id", response.Status.Message, StringComparison.Ordinal);

        // Claims that do not go into a header may hold anything JSON allows.
        var fine = TestTokens.Sign("""{"alg":"RS256","kid":"rsa-1"}""", CorpClaims(",\"note\":\"" + escapedSub + "\""), "RS256");
        Assert.Equal(0, (await client.CheckAsync(Check("/orders/1", "Bearer " + fine))).Status.Code);
    }

    [Fact]
    public async Task Reasons_are_not_exposed_to_clients_by_default()
    {
        var (server, client, directory) = await Start();
        await using var _ = server;
        using var __ = directory;

        var scope = TestTokens.Sign("""{"alg":"RS256","kid":"rsa-1"}""", CorpClaims().Replace("orders:read", "orders:write", StringComparison.Ordinal), "RS256");
        var denied = await client.CheckAsync(Check("/orders/1", "Bearer " + scope));

        Assert.Equal(7, denied.Status.Code);
        Assert.DoesNotContain(denied.DeniedResponse.Headers, h => h.Header.Key == "x-ext-authz-reason");
        var challenge = denied.DeniedResponse.Headers.Single(h => h.Header.Key == "www-authenticate").Header.Value;
        Assert.Equal("Bearer realm=\"api.example.com\", error=\"insufficient_scope\"", challenge);
        Assert.DoesNotContain("orders:read", string.Concat(denied.DeniedResponse.Headers.Select(h => h.Header.Value)), StringComparison.Ordinal);
        Assert.DoesNotContain("orders:read", denied.DeniedResponse.Body, StringComparison.Ordinal);

        var unknownKid = await client.CheckAsync(Check("/orders/1", "Bearer " + TestTokens.Sign("""{"alg":"RS256","kid":"secret-kid"}""", CorpClaims(), "RS256")));
        Assert.DoesNotContain("secret-kid", string.Concat(unknownKid.DeniedResponse.Headers.Select(h => h.Header.Value)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reasons_are_exposed_when_the_operator_asks()
    {
        var (server, client, directory) = await Start(new Dictionary<string, string?> { ["Sidecars:Auth:ExposeReason"] = "true" });
        await using var _ = server;
        using var __ = directory;

        var scope = TestTokens.Sign("""{"alg":"RS256","kid":"rsa-1"}""", CorpClaims().Replace("orders:read", "orders:write", StringComparison.Ordinal), "RS256");
        var denied = await client.CheckAsync(Check("/orders/1", "Bearer " + scope));

        Assert.Equal("scope 'orders:read' is required", denied.DeniedResponse.Headers.Single(h => h.Header.Key == "x-ext-authz-reason").Header.Value);
    }

    [Fact]
    public async Task Host_with_control_characters_never_reaches_the_challenge_header()
    {
        var (server, client, directory) = await Start();
        await using var _ = server;
        using var __ = directory;

        var request = Check("/orders/1");
        request.Attributes.Request.Http.Host = "api.example.com\r\nset-cookie: x=1";
        var denied = await client.CheckAsync(request);

        Assert.Equal(16, denied.Status.Code);
        var challenge = denied.DeniedResponse.Headers.Single(h => h.Header.Key == "www-authenticate").Header.Value;
        Assert.DoesNotContain('\r', challenge);
        Assert.DoesNotContain('\n', challenge);
    }
}
