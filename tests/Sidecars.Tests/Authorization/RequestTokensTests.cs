using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Tests.Authentication;

namespace Sidecars.Tests.Authorization;

public sealed class RequestTokensTests
{
    private sealed record Request(string Path, Dictionary<string, string> Headers) : IRequestView
    {
        public string Method => "GET";

        public string Host => "orders.example.com";

        public string? Header(string name) => Headers.GetValueOrDefault(name);
    }

    private static string? Extract(Request request, params TokenLocation[] locations)
    {
        return RequestTokens.Extract(request, locations, out var token) ? token.ToString() : null;
    }

    [Fact]
    public void Bearer_header_prefix_is_case_insensitive_and_trimmed()
    {
        Assert.Equal("abc.def.ghi", Extract(new("/", new() { ["authorization"] = "bearer  abc.def.ghi " }), TokenLocation.BearerHeader));
        Assert.Null(Extract(new("/", new() { ["authorization"] = "Basic dXNlcjpwYXNz" }), TokenLocation.BearerHeader));
        Assert.Null(Extract(new("/", new() { ["authorization"] = "Bearer " }), TokenLocation.BearerHeader));
        Assert.Null(Extract(new("/", []), TokenLocation.BearerHeader));
    }

    [Fact]
    public void Query_parameters_and_cookies_are_searched_in_declared_order()
    {
        TokenLocation[] locations = [TokenLocation.BearerHeader, new(TokenLocationKind.QueryParameter, "access_token"), new(TokenLocationKind.Cookie, "session")];
        Assert.Equal("q.q.q", Extract(new("/x?a=1&access_token=q.q.q#frag", []), locations));
        Assert.Equal("c.c.c", Extract(new("/x", new() { ["cookie"] = "theme=dark; session=c.c.c" }), locations));
        Assert.Equal("h.h.h", Extract(new("/x?access_token=q.q.q", new() { ["authorization"] = "Bearer h.h.h" }), locations));
        Assert.Null(Extract(new("/x?access_token=", new() { ["cookie"] = "sessionx=1" }), locations));
    }

    [Fact]
    public void A_repeated_token_is_validated_once_then_served_from_the_cache()
    {
        var clock = new FakeTimeProvider(TestTokens.Now);
        var cache = new TokenCache(100, clock);
        var provider = new JwtProvider("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/", Audiences = ["orders-api"] });
        provider.SetKeys([TestTokens.RsaKey()]);
        var providers = new Dictionary<string, JwtProvider> { ["corp"] = provider };
        AuthRoute[] routes = [new("all", new RouteMatch(pathPrefix: "/"), new ProviderRequirement("corp"))];
        var request = new Request("/orders", new() { ["authorization"] = "Bearer " + TestTokens.Rs256() });

        for (var i = 0; i < 3; i++)
        {
            var tokens = RequestTokens.Rent(request, providers, cache, clock);
            var decision = AuthEvaluator.Decide(routes, false, request, tokens);
            RequestTokens.Return(tokens);
            Assert.True(decision.Allowed);
            Assert.Equal("user-1", decision.Token!.Subject);
        }

        Assert.Equal(1, cache.Count);
        Assert.Equal(2, cache.Hits);

        // Rotating the keys away revokes the cached token: it is validated again, and now fails.
        provider.SetKeys([TestTokens.EcKey()]);
        var rotated = RequestTokens.Rent(request, providers, cache, clock);
        var denied = AuthEvaluator.Decide(routes, false, request, rotated);
        RequestTokens.Return(rotated);
        Assert.Equal((401, "invalid_token", "no key with kid 'rsa-1'"), (denied.Status, denied.Error, denied.Description));
    }
}
