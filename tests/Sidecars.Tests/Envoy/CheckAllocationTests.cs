using System.Buffers.Text;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// Issue 8, deliverable 3: an allowed Check on a cached token answers with the response kept with the token, so
/// the adapter allocates nothing per call; and a kept response never outlives what it was built for.
/// </summary>
public sealed class CheckAllocationTests
{
    /// <summary>Bytes the adapter may allocate per allowed Check on a token-cache hit (measured: 0).</summary>
    private const long AllowBudgetBytes = 0;

    private static string Yaml(string claimHeader = "x-user-id", string extra = "") => $$"""
        providers:
          - name: corp
            issuer: https://idp.example.com/
            audiences: [orders-api]
            local_jwks: { inline: '{{Jwks()}}' }
            forward: false
            from_headers: [{ name: authorization, value_prefix: 'Bearer ' }, { name: x-token }]
            claim_to_headers: [{ claim: sub, header: {{claimHeader}} }]
        routes:
          - name: all
            match: { path_prefix: / }
            requires: { provider: corp }
        {{extra}}
        """;

    private static string Jwks()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    private static (AuthorizationServiceAdapter Adapter, ConfigState Config) Adapter(string yaml)
    {
        var clock = new FakeTimeProvider(TestTokens.Now);
        var config = TestConfig.State(yaml);
        return (new AuthorizationServiceAdapter(config, new TokenCache(100, clock), clock, new AuthResponseOptions(), NullLogger<AuthorizationServiceAdapter>.Instance), config);
    }

    private static CheckRequest Request(string token, bool alsoInXToken = false)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "orders.example.com", Path = "/orders/1?x=1", Scheme = "https" };
        http.Headers.Add(":authority", "orders.example.com");
        http.Headers.Add(":method", "GET");
        http.Headers.Add(":path", "/orders/1?x=1");
        http.Headers.Add("authorization", "Bearer " + token);
        http.Headers.Add("user-agent", "curl/8.5.0");
        if (alsoInXToken)
        {
            http.Headers.Add("x-token", token);
        }

        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }

    /// <summary>The Check answer, which is always complete when the method returns (no I/O on the way).</summary>
    private static CheckResponse Answer(AuthorizationServiceAdapter adapter, CheckRequest request)
    {
        var task = adapter.Check(request, null!);
        Assert.True(task.IsCompletedSuccessfully);
        return task.Result;
    }

    [Fact]
    public void An_allowed_check_on_a_cached_token_allocates_within_the_budget()
    {
        var (adapter, _) = Adapter(Yaml());
        var request = Request(TestTokens.Rs256());
        var first = Answer(adapter, request);
        Assert.Equal(0, first.Status.Code);
        Assert.Equal("user-1", Assert.Single(first.OkResponse.Headers).Header.Value);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Answer(adapter, request);
        }

        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
        Assert.True(perCall <= AllowBudgetBytes, $"an allowed Check allocated {perCall} bytes per call; the budget is {AllowBudgetBytes}");
    }

    [Fact]
    public void A_kept_response_is_the_response_built_fresh()
    {
        var token = TestTokens.Rs256();
        var (adapter, _) = Adapter(Yaml());
        var request = Request(token);
        var first = Answer(adapter, request);
        var again = Answer(adapter, request);

        var (fresh, _) = Adapter(Yaml());
        Assert.Equal(Answer(fresh, request).ToByteArray(), again.ToByteArray());
        Assert.Same(first, again);
        Assert.Equal(["authorization"], again.OkResponse.HeadersToRemove);
        Assert.Equal("user-1", again.DynamicMetadata.Fields["jwt"].StructValue.Fields["sub"].StringValue);
        Assert.Equal("corp", again.DynamicMetadata.Fields["jwt"].StructValue.Fields["provider"].StringValue);
        Assert.Equal("all", again.DynamicMetadata.Fields["route"].StringValue);
    }

    [Fact]
    public void Another_set_of_token_headers_or_a_reload_builds_a_new_response()
    {
        var token = TestTokens.Rs256();
        var (adapter, config) = Adapter(Yaml());
        var plain = Answer(adapter, Request(token));

        // The same token also in x-token: both locations are stripped, not only the one of the kept response.
        var both = Answer(adapter, Request(token, alsoInXToken: true));
        Assert.Equal(["authorization", "x-token"], both.OkResponse.HeadersToRemove);
        Assert.Equal(["authorization"], Answer(adapter, Request(token)).OkResponse.HeadersToRemove);
        Assert.NotSame(plain, both);

        // A reload that maps the claim to another header: the token is still cached, its response is not.
        var diagnostics = new ConfigDiagnostics();
        config.Publish(ConfigLoader.Compile([new ConfigSource("test.yaml", Yaml("x-subject"))], diagnostics)!);
        var reloaded = Answer(adapter, Request(token));
        Assert.Equal("x-subject", Assert.Single(reloaded.OkResponse.Headers).Header.Key);
        Assert.Equal(["authorization"], reloaded.OkResponse.HeadersToRemove);
    }
}
