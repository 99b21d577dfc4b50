using Sidecars.Authorization.Services;
using Sidecars.Tests.Infrastructure;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Authorization.Services;

/// <summary>Issue 9: API keys held as SHA-256, found by hash, acting as a token's claims; never echoed.</summary>
public sealed class ServiceApiKeyTests
{
    private const string Key = "sk_live_7f3a9c1e5b2d4f6a8c0e";

    private static readonly string Partners = $$"""
        service: public
        owns: [{ host: public.example.com }]
        api_keys:
          - name: partner-keys
            from_headers: [{ name: x-api-key }]
            from_params: [api_key]
            claim_to_headers: [{ claim: tenant, header: x-tenant }]
            keys:
              - { id: acme-prod, sha256: "{{ApiKeySet.HashOf(Key)}}", claims: { tenant: acme, scope: "orders:read" } }
              - { id: globex, sha256: "{{ApiKeySet.HashOf("another-key")}}", claims: { tenant: globex } }
        routes:
          - name: partner
            match: { path_prefix: /partner }
            requires: { api_key: partner-keys }
            rules:
              - claim: { name: tenant, equals: acme }
        """;

    [Fact]
    public void A_known_key_authenticates_with_its_claims_and_is_not_forwarded()
    {
        var harness = new ServiceHarness(("public.yaml", Partners));
        var response = harness.Check(Request("public.example.com", "/partner/x", headers: [("x-api-key", Key), ("x-tenant", "forged")]));
        Assert.Equal(200, Status(response));
        Assert.Equal("acme", Header(response.OkResponse.Headers, "x-tenant"));
        Assert.Contains("x-api-key", response.OkResponse.HeadersToRemove);
        var identity = response.DynamicMetadata.Fields["api_key"].StructValue.Fields;
        Assert.Equal("acme-prod", identity["id"].StringValue);
        Assert.Equal("acme-prod", identity["sub"].StringValue);
        Assert.Equal("public/partner-keys", identity["set"].StringValue);
        Assert.False(response.DynamicMetadata.Fields.ContainsKey("jwt"));

        Assert.Equal(200, Status(harness.Check(Request("public.example.com", "/partner/x?api_key=" + Key))));
    }

    [Fact]
    public void A_missing_or_unknown_key_is_401_and_the_key_is_never_echoed()
    {
        var harness = new ServiceHarness(("public.yaml", Partners));
        var missing = harness.Check(Request("public.example.com", "/partner/x"));
        Assert.Equal(401, Status(missing));
        Assert.Equal("an API key is required", missing.Status.Message);

        const string Guess = "sk_live_guess_0000000000";
        var unknown = harness.Check(Request("public.example.com", "/partner/x", headers: [("x-api-key", Guess)]));
        Assert.Equal(401, Status(unknown));
        Assert.Equal("API key is not known", unknown.Status.Message);
        Assert.DoesNotContain(Guess, unknown.ToString(), StringComparison.Ordinal);

        // A known key whose claims fail a rule: 403, as a token's would.
        Assert.Equal(403, Status(harness.Check(Request("public.example.com", "/partner/x", headers: [("x-api-key", "another-key")]))));
    }

    [Fact]
    public void Config_holds_only_hashes_and_refuses_a_key_pasted_in_place_of_one()
    {
        var errors = TestConfig.Errors(("public.yaml", Partners.Replace(ApiKeySet.HashOf(Key), Key, StringComparison.Ordinal)));
        var error = Assert.Single(errors);
        Assert.StartsWith("public.yaml:9:34: API key 'acme-prod': 'sha256' must be 64 hex digits", error, StringComparison.Ordinal);
        Assert.DoesNotContain(Key, error, StringComparison.Ordinal);

        var snapshot = new ServiceHarness(("public.yaml", Partners)).Config.Current;
        var set = snapshot.Auth.Services.ApiKeySets["public/partner-keys"];
        Assert.Equal(2, set.Keys.Count);
        Assert.Equal("acme-prod", set.Find(Key)!.Id);
        Assert.Null(set.Find(Key + "x"));
        Assert.Null(set.Find(string.Empty));
    }

    [Fact]
    public void An_api_key_requirement_names_a_set_of_its_own_service()
    {
        var errors = TestConfig.Errors(("public.yaml", Partners.Replace("requires: { api_key: partner-keys }", "requires: { api_key: nope }", StringComparison.Ordinal)));
        Assert.Equal(["public.yaml:12:5: route 'partner' requires unknown API key set 'nope' (defined: partner-keys)"], errors);
    }
}
