using System.Buffers.Text;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Envoy.Authorization;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// What one cached token keeps alive once the sidecar has answered it: its cache entry, the validated token, its
/// upstream headers and its kept allow answer. Measured as the live heap after full collections, before and after
/// N distinct tokens went through the real Check path, so it counts only what the cache retains (not timed).
/// </summary>
public sealed class CachedTokenFootprintTests(ITestOutputHelper output)
{
    private const int Users = 2_000;

    /// <summary>
    /// Retained bytes a cached token may cost. Measured 1,314 (2,902 when the cache kept the token text as its key,
    /// an entry record, a scopes array and a shape record): the claims document, the upstream headers and the
    /// encoded answer are most of it. Below the 1,272 bytes of a second copy of the token text over what is measured.
    /// </summary>
    private const long BudgetBytesPerToken = 1_600;

    private static readonly string Yaml = $$"""
        providers:
          - name: corp
            issuer: https://idp.example.com/
            audiences: [orders-api]
            local_jwks: { inline: '{{Jwks()}}' }
            forward: false
            claim_to_headers: [{ claim: sub, header: x-user-id }]
        routes:
          - name: all
            match: { path_prefix: / }
            requires: { provider: corp, scopes: [orders:read] }
        """;

    private static string Jwks()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    /// <summary>A token shaped as the load test's: ~620 characters, RS256.</summary>
    private static string UserToken(int user) => TestTokens.Rs256(
        $$"""{"iss":"https://idp.example.com/","sub":"user-{{user:D5}}","aud":"orders-api","scope":"orders:read","iat":{{TestTokens.NowSeconds - 60}},"exp":{{TestTokens.NowSeconds + 3600}},"jti":"{{Guid.NewGuid():N}}"}""");

    private static CheckRequest Request(string token)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "orders.example.com", Path = "/orders/1", Scheme = "https" };
        http.Headers.Add(":authority", "orders.example.com");
        http.Headers.Add(":method", "GET");
        http.Headers.Add(":path", "/orders/1");
        http.Headers.Add("authorization", "Bearer " + token);
        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }

    private static void AnswerOk(AuthorizationServiceAdapter adapter, string token)
    {
        var task = adapter.Answer(Request(token));
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(0, task.Result.StatusCode);
    }

    [Fact]
    public async Task A_cached_token_retains_at_most_its_budget_of_heap()
    {
        var (perToken, log) = await ChildMeasurement.RunAsync("cached-token-footprint");
        output.WriteLine(log);
        Assert.True(perToken <= BudgetBytesPerToken, $"a cached token retains {perToken} bytes; the budget is {BudgetBytesPerToken}");
    }

    /// <summary>
    /// Run by <see cref="ChildMeasurement"/> in a fresh process: five rounds of <see cref="Users"/> new tokens, each on a
    /// new cache; the median round's retained bytes per token.
    /// </summary>
    internal static long MeasureRetainedPerToken(TextWriter log)
    {
        var tokens = Enumerable.Range(0, Users + 1).Select(UserToken).ToArray();
        var rounds = new List<long>();
        for (var round = 0; round < 5; round++)
        {
            var othersBefore = OthersAllocated();
            var perRound = RetainedPerToken(tokens);
            rounds.Add(perRound);
            log.WriteLine($"round {round}: {perRound} B per token, other threads allocated {OthersAllocated() - othersBefore} B meanwhile");
        }

        rounds.Sort();
        log.WriteLine($"median {rounds[2]} bytes retained per cached token (token text {tokens[0].Length} chars)");
        return rounds[2];
    }

    /// <summary>Bytes allocated by every thread but this one since the process started (printed: a busy runtime thread shows).</summary>
    private static long OthersAllocated() => GC.GetTotalAllocatedBytes(precise: true) - GC.GetAllocatedBytesForCurrentThread();

    /// <summary>The live heap once two full collections in a row agree within 64 KB (at most a second of trying).</summary>
    private static long SettledHeap()
    {
        var last = GC.GetTotalMemory(forceFullCollection: true);
        for (var i = 0; i < 20; i++)
        {
            GC.WaitForPendingFinalizers();
            var now = GC.GetTotalMemory(forceFullCollection: true);
            if (Math.Abs(now - last) < 64 * 1024)
            {
                return now;
            }

            last = now;
            Thread.Sleep(50);
        }

        return last;
    }

    private static long RetainedPerToken(string[] tokens)
    {
        var clock = new FakeTimeProvider(TestTokens.Now);
        var cache = new TokenCache(Users + 10, clock);
        var adapter = new AuthorizationServiceAdapter(TestConfig.State(Yaml), cache, clock, new AuthResponseOptions(), NullLogger<AuthorizationServiceAdapter>.Instance);

        // The last token warms every per-thread pool and lazily built table of the path.
        AnswerOk(adapter, tokens[Users]);
        var before = SettledHeap();
        for (var i = 0; i < Users; i++)
        {
            AnswerOk(adapter, tokens[i]);
        }

        var after = GC.GetTotalMemory(forceFullCollection: true);
        Assert.Equal(Users + 1, cache.Count);

        // Every token is still answered from the cache, so the entries measured are the ones a hit reads.
        var hits = cache.Hits;
        AnswerOk(adapter, tokens[0]);
        Assert.Equal(hits + 1, cache.Hits);
        GC.KeepAlive(adapter);
        return (after - before) / Users;
    }
}
