using System.Buffers.Text;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Jwks;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Jwks;

/// <summary>The JWKS cache against a real HTTP endpoint served by the test.</summary>
public sealed class RemoteJwksSourceTests
{
    private static readonly HttpClient Http = new();

    private static string Jwks(params string[] kids)
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        var keys = kids.Select(kid => $$"""{"kty":"RSA","kid":"{{kid}}","use":"sig","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}""");
        return "{\"keys\":[" + string.Join(',', keys) + "]}";
    }

    private static JwtProvider Provider() => new("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/" });

    private static bool Validates(JwtProvider provider, string kid) =>
        JwtValidator.TryValidate(TestTokens.Rs256(kid: kid), provider.Keys, provider.Options, TestTokens.Now, out _, out _);

    [Fact]
    public async Task Keys_are_fetched_at_start_and_verify_tokens()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1");
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromMinutes(10), Http, TimeProvider.System);
        await source.StartAsync();
        Assert.True(source.HasKeys);
        Assert.Null(source.LastError);
        Assert.True(Validates(provider, "rsa-1"));
    }

    [Fact]
    public async Task Discovery_document_leads_to_the_key_set()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1");
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, server.DiscoveryUri, discovery: true, TimeSpan.FromMinutes(10), Http, TimeProvider.System);
        await source.StartAsync();
        Assert.True(Validates(provider, "rsa-1"));
    }

    [Fact]
    public async Task Endpoint_down_at_start_leaves_no_keys_and_a_clear_error()
    {
        await using var server = await JwksServer.StartAsync();
        server.Status = 503;
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromMinutes(10), Http, TimeProvider.System);
        await source.StartAsync();
        Assert.False(source.HasKeys);
        Assert.Contains("HTTP 503", source.LastError, StringComparison.Ordinal);
        Assert.False(JwtValidator.TryValidate(TestTokens.Rs256(), provider.Keys, provider.Options, TestTokens.Now, out _, out var failure));
        Assert.Equal("no key with kid 'rsa-1'", failure.Description);
    }

    [Fact]
    public async Task Stale_keys_keep_working_when_a_refresh_fails()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1");
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromMinutes(10), Http, TimeProvider.System);
        await source.StartAsync();

        server.Status = 500;
        await source.Refresh();
        Assert.Contains("HTTP 500", source.LastError, StringComparison.Ordinal);
        Assert.True(Validates(provider, "rsa-1"));

        server.Status = 200;
        server.Body = "{ not json";
        await source.Refresh();
        Assert.NotNull(source.LastError);
        Assert.True(Validates(provider, "rsa-1"));
    }

    [Fact]
    public async Task Oversized_and_slow_endpoints_are_errors_not_hangs()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1", "rsa-2", "rsa-3", "rsa-4");
        Assert.True(server.Body.Length > 1024);
        var provider = Provider();
        var options = new JwksOptions { MaxBytes = 1024, FetchTimeout = TimeSpan.FromMilliseconds(300) };
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromMinutes(10), Http, TimeProvider.System, options);
        await source.StartAsync();
        Assert.Contains("larger than 1024 bytes", source.LastError, StringComparison.Ordinal);

        server.Body = """{"keys":[]}""";
        server.Delay = TimeSpan.FromSeconds(5);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await source.Refresh();
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"the fetch waited {clock.Elapsed}");
        Assert.Contains("no answer", source.LastError, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_kid_refreshes_at_most_once_per_interval_and_picks_up_a_rotation()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromHours(1), Http, clock, new JwksOptions { MinRefreshInterval = TimeSpan.FromSeconds(10) });
        await source.StartAsync();
        Assert.Equal(1, server.Requests);

        // The issuer rotates to rsa-2; tokens naming it arrive many times.
        server.Body = Jwks("rsa-2");
        var cache = new TokenCache(100, clock);
        var providers = new Dictionary<string, JwtProvider> { ["corp"] = provider };
        AuthRoute[] routes = [new("all", new RouteMatch(pathPrefix: "/"), new ProviderRequirement("corp"))];
        var request = new Request("Bearer " + TestTokens.Rs256(kid: "rsa-2"));
        for (var i = 0; i < 20; i++)
        {
            var tokens = RequestTokens.Rent(request, providers, cache, clock);
            AuthEvaluator.Decide(routes, false, request, tokens);
            RequestTokens.Return(tokens);
        }

        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Validates(provider, "rsa-2"))));
        Assert.Equal(2, server.Requests);

        // Within the interval more unknown kids fetch nothing; after it, one more fetch is allowed.
        provider.Refresher!.RequestRefresh();
        Assert.Equal(2, server.Requests);
        clock.Advance(TimeSpan.FromSeconds(11));
        provider.Refresher.RequestRefresh();
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(server.Requests == 3)));
        Assert.False(Validates(provider, "rsa-1"));
    }

    [Fact]
    public async Task Refresh_follows_cache_control_max_age_when_shorter()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1");
        server.MaxAgeSeconds = 60;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        using var source = new RemoteJwksSource(Provider(), server.JwksUri, discovery: false, TimeSpan.FromHours(1), Http, clock, new JwksOptions { Jitter = 0 });
        await source.StartAsync();
        Assert.Equal(1, server.Requests);

        clock.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(1, server.Requests);
        clock.Advance(TimeSpan.FromSeconds(2));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(server.Requests == 2)));
    }

    [Fact]
    public async Task An_unchanged_key_keeps_its_instance_across_refreshes()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = Jwks("rsa-1");
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromMinutes(10), Http, TimeProvider.System);
        await source.StartAsync();
        var before = provider.Keys[0];
        server.Body = Jwks("rsa-1", "rsa-2");
        await source.Refresh();
        Assert.Same(before, provider.Keys[0]);
        Assert.Equal(2, provider.Keys.Count);
    }

    private sealed record Request(string Authorization) : IRequestView
    {
        public string Method => "GET";

        public string Host => "h";

        public string Path => "/";

        public string? Header(string name) => name == "authorization" ? Authorization : null;
    }
}
