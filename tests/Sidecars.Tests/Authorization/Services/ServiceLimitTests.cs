using Sidecars.Envoy.Authorization;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Authorization.Services;

/// <summary>Issue 9: rate limits inside Check — per claim, header, source address and key; 429 with Retry-After and RateLimit headers.</summary>
public sealed class ServiceLimitTests
{
    private static ServiceHarness With(string limits, string requires = "{ provider: corp }", string mode = "enforce") => new(("svc.yaml", $"""
        service: svc
        owns: [{"{"} host: svc.example.com {"}"}]
        mode: {mode}
        api_keys:
          - name: keys
            from_headers: [{"{"} name: x-api-key {"}"}]
            keys:
              - {"{"} id: k1, sha256: "{Sidecars.Authorization.Services.ApiKeySet.HashOf("key-1")}" {"}"}
              - {"{"} id: k2, sha256: "{Sidecars.Authorization.Services.ApiKeySet.HashOf("key-2")}" {"}"}
        routes:
          - name: r
            match: {"{"} path_prefix: / {"}"}
            requires: {requires}
            rate_limits:
        {limits}
        """));

    [Fact]
    public void Per_user_limits_answer_429_with_retry_after_and_ratelimit_headers()
    {
        var harness = With("      - { name: per-user, per: [claim:sub], unit: minute, requests_per_unit: 60, burst: 2 }");
        var first = harness.Check(Request("svc.example.com", "/", token: Token()));
        Assert.Equal(200, Status(first));
        Assert.Equal("\"per-user\";q=60;w=60", Header(first.OkResponse.ResponseHeadersToAdd, "ratelimit-policy"));
        Assert.Equal("\"per-user\";r=1;t=1", Header(first.OkResponse.ResponseHeadersToAdd, "ratelimit"));
        Assert.Equal("user-1", Header(first.OkResponse.Headers, "x-user-id"));

        Assert.Equal(200, Status(harness.Check(Request("svc.example.com", "/", token: Token()))));
        var over = harness.Check(Request("svc.example.com", "/", token: Token()));
        Assert.Equal(429, Status(over));
        Assert.Equal(8, over.Status.Code);
        Assert.Equal("rate limit 'per-user' of route 'r' exceeded", over.Status.Message);
        Assert.Equal("1", Header(over.DeniedResponse.Headers, "retry-after"));
        Assert.Equal("\"per-user\";r=0;t=1", Header(over.DeniedResponse.Headers, "ratelimit"));

        // Another user has a bucket of their own; after the emission interval the first may call again.
        Assert.Equal(200, Status(harness.Check(Request("svc.example.com", "/", token: TestTokensWithSub("bob")))));
        harness.Clock.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(200, Status(harness.Check(Request("svc.example.com", "/", token: Token()))));
    }

    private static string TestTokensWithSub(string sub) =>
        Sidecars.Tests.Authentication.TestTokens.Rs256(Sidecars.Tests.Authentication.TestTokens.Claims().Replace("\"sub\":\"user-1\"", $"\"sub\":\"{sub}\"", StringComparison.Ordinal));

    [Fact]
    public void Header_ip_and_key_limits_key_by_their_values_and_a_missing_value_does_not_apply()
    {
        var byHeader = With("      - { name: per-tenant, per: [header:x-tenant], unit: hour, requests_per_unit: 1 }", requires: "allow");
        Assert.Equal(200, Status(byHeader.Check(Request("svc.example.com", "/", headers: [("x-tenant", "a")]))));
        Assert.Equal(429, Status(byHeader.Check(Request("svc.example.com", "/", headers: [("x-tenant", "a")]))));
        Assert.Equal(200, Status(byHeader.Check(Request("svc.example.com", "/", headers: [("x-tenant", "b")]))));
        var none = byHeader.Check(Request("svc.example.com", "/"));
        Assert.Equal(200, Status(none));
        Assert.Empty(none.OkResponse.ResponseHeadersToAdd);

        // A value holding the separator cannot reach another value's bucket.
        Assert.Equal(200, Status(byHeader.Check(Request("svc.example.com", "/", headers: [("x-tenant", "a|")]))));

        var byIp = With("      - { name: per-ip, per: [source_ip], unit: minute, requests_per_unit: 1 }", requires: "allow");
        Assert.Equal(200, Status(byIp.Check(Request("svc.example.com", "/", sourceIp: "10.0.0.1"))));
        Assert.Equal(429, Status(byIp.Check(Request("svc.example.com", "/", sourceIp: "10.0.0.1"))));
        Assert.Equal(200, Status(byIp.Check(Request("svc.example.com", "/", sourceIp: "2001:db8::1"))));

        var byKey = With("      - { name: per-key, per: [api_key, route], unit: day, requests_per_unit: 1 }", requires: "{ api_key: keys }");
        Assert.Equal(200, Status(byKey.Check(Request("svc.example.com", "/", headers: [("x-api-key", "key-1")]))));
        Assert.Equal(429, Status(byKey.Check(Request("svc.example.com", "/", headers: [("x-api-key", "key-1")]))));
        Assert.Equal(200, Status(byKey.Check(Request("svc.example.com", "/", headers: [("x-api-key", "key-2")]))));
    }

    [Fact]
    public void A_routes_limits_are_all_or_nothing()
    {
        var harness = With("""
                  - { name: per-user, per: [claim:sub], unit: minute, requests_per_unit: 10 }
                  - { name: whole, per: [service], unit: minute, requests_per_unit: 1 }
            """);
        Assert.Equal(200, Status(harness.Check(Request("svc.example.com", "/", token: Token()))));
        var over = harness.Check(Request("svc.example.com", "/", token: Token()));
        Assert.Equal(429, Status(over));
        Assert.Equal("rate limit 'whole' of route 'r' exceeded", over.Status.Message);

        // The refused call charged no bucket: per-user still has 9 left after this one is refused again.
        harness.Clock.Advance(TimeSpan.FromSeconds(60));
        var next = harness.Check(Request("svc.example.com", "/", token: Token()));
        Assert.Equal(200, Status(next));
        Assert.Equal("\"whole\";r=0;t=60", Header(next.OkResponse.ResponseHeadersToAdd, "ratelimit"));
    }

    [Fact]
    public void In_dry_run_the_would_be_answer_is_reported_and_the_request_allowed()
    {
        var harness = With("      - { name: per-user, per: [claim:sub], unit: minute, requests_per_unit: 1 }", mode: "dry_run");
        Assert.Equal(200, Status(harness.Check(Request("svc.example.com", "/", token: Token()))));
        var over = harness.Check(Request("svc.example.com", "/", token: Token()));
        Assert.Equal(200, Status(over));
        Assert.Equal("429 rate limit 'per-user' of route 'r' exceeded", Header(over.OkResponse.Headers, AuthorizationServiceAdapter.DryRunHeader));
        Assert.Equal("429 rate limit 'per-user' of route 'r' exceeded", over.DynamicMetadata.Fields["dry_run"].StringValue);
        Assert.Equal("user-1", Header(over.OkResponse.Headers, "x-user-id"));

        var unauthenticated = harness.Check(Request("svc.example.com", "/", headers: [("x-user-id", "forged")]));
        Assert.Equal(200, Status(unauthenticated));
        Assert.Equal("401 a bearer token is required", Header(unauthenticated.OkResponse.Headers, AuthorizationServiceAdapter.DryRunHeader));
        Assert.Contains("x-user-id", unauthenticated.OkResponse.HeadersToRemove);
    }
}
