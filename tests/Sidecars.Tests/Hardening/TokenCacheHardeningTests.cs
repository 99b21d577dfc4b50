using System.Reflection;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using static Sidecars.Tests.Authentication.TestTokens;

namespace Sidecars.Tests.Hardening;

/// <summary>Issue 7 finding 4: the token cache is keyed by what a validation depends on, and a hit still allocates nothing.</summary>
public sealed class TokenCacheHardeningTests
{
    private static readonly JwtValidationOptions Options = new() { Issuer = "https://idp.example.com/", Audiences = ["orders-api"] };

    [Fact]
    public void A_provider_with_other_options_misses_and_an_equal_one_hits()
    {
        var cache = new TokenCache(100, new FakeTimeProvider(Now));
        var token = Rs256();
        SigningKey[] keys = [RsaKey()];
        var provider = new JwtProvider("corp", Options);
        Assert.True(JwtValidator.TryValidate(token, keys, Options, Now, out var validated, out _));
        cache.Add(token, provider, validated!, validated!.Expires!.Value);

        // A reload compiles a new instance: equal options keep the entry, tightened ones do not.
        var same = new JwtProvider("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/", Audiences = ["orders-api"] });
        Assert.True(cache.TryGet(token, same, keys, out _));
        Assert.False(cache.TryGet(token, new JwtProvider("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/", Audiences = ["billing-api"] }), keys, out _));
        Assert.False(cache.TryGet(token, new JwtProvider("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/", Audiences = ["orders-api"], MaxLifetime = TimeSpan.FromMinutes(1) }), keys, out _));
        Assert.False(cache.TryGet(token, new JwtProvider("partners", Options), keys, out _));
    }

    [Fact]
    public void Every_validation_option_changes_the_fingerprint()
    {
        // Guards the cache against an option added later and forgotten in the fingerprint.
        var baseline = new JwtProvider("corp", new JwtValidationOptions()).CacheFingerprint;
        var changed = new Dictionary<string, object?>
        {
            [nameof(JwtValidationOptions.Issuer)] = "https://idp.example.com/",
            [nameof(JwtValidationOptions.Audiences)] = new[] { "a" },
            [nameof(JwtValidationOptions.ClockSkew)] = TimeSpan.FromSeconds(1),
            [nameof(JwtValidationOptions.RequireExpiration)] = false,
            [nameof(JwtValidationOptions.MaxLifetime)] = TimeSpan.FromHours(1),
            [nameof(JwtValidationOptions.MaxTokenLength)] = 100,
            [nameof(JwtValidationOptions.RequiredType)] = "at+jwt",
        };
        foreach (var property in typeof(JwtValidationOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            Assert.True(changed.TryGetValue(property.Name, out var value), $"JwtValidationOptions.{property.Name} is not covered by JwtProvider.CacheFingerprint (and this test)");
            var options = new JwtValidationOptions();
            property.SetValue(options, value);
            Assert.NotEqual(baseline, new JwtProvider("corp", options).CacheFingerprint);
        }

        Assert.NotEqual(
            new JwtProvider("corp", new JwtValidationOptions { Audiences = ["a", "b"] }).CacheFingerprint,
            new JwtProvider("corp", new JwtValidationOptions { Audiences = ["a\nb"] }).CacheFingerprint);
    }

    [Fact]
    public void A_cache_hit_allocates_nothing()
    {
        var cache = new TokenCache(100, new FakeTimeProvider(Now));
        var token = Rs256();
        SigningKey[] keys = [RsaKey()];
        var provider = new JwtProvider("corp", Options);
        Assert.True(JwtValidator.TryValidate(token, keys, Options, Now, out var validated, out _));
        cache.Add(token, provider, validated!, validated!.Expires!.Value);
        var reloaded = new JwtProvider("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/", Audiences = ["orders-api"] });
        Assert.True(cache.TryGet(token, reloaded, keys, out _));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            cache.TryGet(token, i % 2 == 0 ? provider : reloaded, keys, out _);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
