using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using static Sidecars.Tests.Authentication.TestTokens;

namespace Sidecars.Tests.Authentication;

public sealed class TokenCacheTests
{
    private static readonly JwtValidationOptions Options = new() { Issuer = "https://idp.example.com/" };
    private static readonly JwtProvider Corp = new("corp", Options);
    private static readonly JwtProvider Partners = new("partners", Options);

    private static (ValidatedToken Token, SigningKey[] Keys) Validated(string token)
    {
        SigningKey[] keys = [RsaKey()];
        Assert.True(JwtValidator.TryValidate(token, keys, Options, Now, out var validated, out var failure), failure.Description);
        return (validated!, keys);
    }

    [Fact]
    public void A_cached_token_is_found_by_its_text_for_its_provider()
    {
        var clock = new FakeTimeProvider(Now);
        var cache = new TokenCache(100, clock);
        var token = Rs256();
        var (validated, keys) = Validated(token);
        cache.Add(token, Corp, validated, validated.Expires!.Value);

        Assert.True(cache.TryGet(token.AsSpan(), Corp, keys, out var hit));
        Assert.Same(validated, hit);
        Assert.Equal(1, cache.Hits);
        Assert.False(cache.TryGet(token.AsSpan(), Partners, keys, out _));
        Assert.False(cache.TryGet((token + "x").AsSpan(), Corp, keys, out _));
        Assert.Same(keys[0], validated.Key);
    }

    [Fact]
    public void Only_the_very_same_token_text_hits()
    {
        var cache = new TokenCache(100, new FakeTimeProvider(Now));
        var token = Rs256();
        var (validated, keys) = Validated(token);
        cache.Add(token, Corp, validated, validated.Expires!.Value);

        // Keyed by a hash of the whole text, not the text: every character still counts, and the length too.
        var chars = token.ToCharArray();
        for (var i = 0; i < chars.Length; i += 37)
        {
            var original = chars[i];
            chars[i] = original == 'A' ? 'B' : 'A';
            Assert.False(cache.TryGet(chars, Corp, keys, out _), $"a token differing at {i} hit");
            chars[i] = original;
        }

        Assert.False(cache.TryGet(token.AsSpan(0, token.Length - 1), Corp, keys, out _));
        Assert.False(cache.TryGet(token.AsSpan(0, token.LastIndexOf('.')), Corp, keys, out _));
        Assert.False(cache.TryGet(token + "A", Corp, keys, out _));
        Assert.False(cache.TryGet(" " + token, Corp, keys, out _));
        Assert.True(cache.TryGet(new string(chars), Corp, keys, out var hit));
        Assert.Same(validated, hit);
    }

    [Fact]
    public void A_token_with_characters_beyond_ascii_is_neither_cached_nor_found()
    {
        var cache = new TokenCache(100, new FakeTimeProvider(Now));
        var (validated, keys) = Validated(Rs256());

        // Narrowing é to one byte would make two texts one (Encoding.ASCII would send it to "?"): never a compact JWS, so never cached.
        cache.Add("abc\u00e9", Corp, validated, Now.AddHours(1));
        Assert.Equal(0, cache.Count);
        Assert.False(cache.TryGet("abc\u00e9", Corp, keys, out _));
        Assert.False(cache.TryGet("abc?", Corp, keys, out _));
    }

    [Fact]
    public void A_token_longer_than_the_stack_buffer_is_hashed_all_the_same()
    {
        var cache = new TokenCache(100, new FakeTimeProvider(Now));
        var (validated, keys) = Validated(Rs256());
        var text = new string('a', 10_000);
        cache.Add(text, Corp, validated, Now.AddHours(1));
        Assert.True(cache.TryGet(text, Corp, keys, out _));
        Assert.False(cache.TryGet(text[..^1] + "b", Corp, keys, out _));
    }

    [Fact]
    public void A_key_removed_from_the_key_set_revokes_its_cached_tokens()
    {
        var cache = new TokenCache(100, new FakeTimeProvider(Now));
        var token = Rs256();
        var (validated, keys) = Validated(token);
        cache.Add(token, Corp, validated, validated.Expires!.Value);

        SigningKey[] rotated = [EcKey()];
        Assert.False(cache.TryGet(token.AsSpan(), Corp, rotated, out _));
        Assert.Equal(0, cache.Count);
        Assert.False(cache.TryGet(token.AsSpan(), Corp, keys, out _));
    }

    [Fact]
    public void An_expired_token_stops_being_served_at_its_exp()
    {
        var clock = new FakeTimeProvider(Now);
        var cache = new TokenCache(100, clock);
        var token = Rs256();
        var (validated, keys) = Validated(token);
        cache.Add(token, Corp, validated, validated.Expires!.Value);

        clock.SetUtcNow(validated.Expires.Value);
        Assert.True(cache.TryGet(token.AsSpan(), Corp, keys, out _));
        clock.Advance(TimeSpan.FromTicks(1));
        Assert.False(cache.TryGet(token.AsSpan(), Corp, keys, out _));
    }

    [Fact]
    public void The_cache_holds_at_most_its_capacity()
    {
        var clock = new FakeTimeProvider(Now);
        var cache = new TokenCache(3, clock);
        var (validated, _) = Validated(Rs256());
        for (var i = 0; i < 10; i++)
        {
            cache.Add("token-" + i, Corp, validated, Now.AddMinutes(i < 3 ? 1 : 60));
        }

        Assert.Equal(3, cache.Count);

        // Once entries expire, room is made for new ones.
        clock.Advance(TimeSpan.FromMinutes(2));
        cache.Add("fresh", Corp, validated, Now.AddHours(1));
        Assert.Equal(1, cache.Count);
    }
}
