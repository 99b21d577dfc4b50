using System.Text.Json;
using System.Text.RegularExpressions;
using Sidecars.Authentication;
using Sidecars.Authorization;

namespace Sidecars.Tests.Authorization;

/// <summary>Route matching and every requirement form, over tokens already validated (or not) per provider.</summary>
public sealed class AuthEvaluatorTests
{
    private sealed record Request(string Method, string Host, string Path, Dictionary<string, string>? Headers = null) : IRequestView
    {
        public string? Header(string name) => Headers?.GetValueOrDefault(name);
    }

    private sealed class Tokens(Dictionary<string, ProviderToken> tokens) : ITokenSource
    {
        public List<string> Asked { get; } = [];

        public ProviderToken For(string provider)
        {
            Asked.Add(provider);
            return tokens.GetValueOrDefault(provider, ProviderToken.Missing);
        }
    }

    private static ProviderToken Valid(string claimsJson) =>
        new(TokenState.Valid, new ValidatedToken("RS256", "k1", JsonDocument.Parse(claimsJson).RootElement.Clone(), null));

    private static readonly ProviderToken Expired = new(TokenState.Invalid, Failure: JwtFailure.Invalid("token is expired"));

    private static readonly AuthRoute[] Routes =
    [
        new("orders-read", new RouteMatch(host: "orders.example.com", pathPrefix: "/orders", methods: ["GET", "HEAD"]), new ProviderRequirement("corp", Scopes: ["orders:read"])),
        new("health", new RouteMatch(path: "/healthz"), Requirement.Allow),
        new("admin", new RouteMatch(pathRegex: new Regex("^/admin/[0-9]+$", RegexOptions.NonBacktracking)), new AllRequirement([new ProviderRequirement("corp", Claims: [new ClaimCondition("role", ["admin", "owner"])]), new ProviderRequirement("partners")])),
        new("internal", new RouteMatch(host: "*.internal.example.com", headers: [new HeaderCondition("x-debug", null)]), Requirement.Deny),
        new("public", new RouteMatch(pathPrefix: "/public"), new ProviderRequirement("corp", AllowMissing: true)),
        new("any", new RouteMatch(pathPrefix: "/"), new AnyRequirement([new ProviderRequirement("corp"), new ProviderRequirement("partners", Audiences: ["partner-api"])])),
    ];

    private static AuthDecision Decide(Request request, Dictionary<string, ProviderToken>? tokens = null, bool defaultAllow = false, AuthRoute[]? routes = null) =>
        AuthEvaluator.Decide(routes ?? Routes, defaultAllow, request, new Tokens(tokens ?? []));

    [Fact]
    public void Provider_with_required_scope_allows()
    {
        var decision = Decide(new("GET", "orders.example.com", "/orders/7?x=1"), new() { ["corp"] = Valid("""{"sub":"u","scope":"orders:read orders:write"}""") });
        Assert.True(decision.Allowed);
        Assert.Equal("orders-read", decision.Route);
        Assert.Equal("u", decision.Token!.Subject);
    }

    [Fact]
    public void Missing_scope_is_403_insufficient_scope()
    {
        var decision = Decide(new("GET", "orders.example.com:443", "/orders"), new() { ["corp"] = Valid("""{"scp":["orders:write"]}""") });
        Assert.Equal((false, 403, "insufficient_scope", "scope 'orders:read' is required"), (decision.Allowed, decision.Status, decision.Error, decision.Description));
    }

    [Fact]
    public void Scopes_come_from_scope_or_scp() =>
        Assert.True(Decide(new("HEAD", "orders.example.com", "/orders"), new() { ["corp"] = Valid("""{"scp":"orders:read"}""") }).Allowed);

    [Fact]
    public void Missing_token_is_401_without_error_code()
    {
        var decision = Decide(new("GET", "orders.example.com", "/orders"));
        Assert.Equal((false, 401, (string?)null, "a bearer token is required"), (decision.Allowed, decision.Status, decision.Error, decision.Description));
    }

    [Fact]
    public void Invalid_token_is_401_invalid_token_with_its_reason()
    {
        var decision = Decide(new("GET", "orders.example.com", "/orders"), new() { ["corp"] = Expired });
        Assert.Equal((false, 401, "invalid_token", "token is expired"), (decision.Allowed, decision.Status, decision.Error, decision.Description));
    }

    [Fact]
    public void Method_host_and_path_must_all_match()
    {
        // POST is not in the route's methods: the request falls through to "any".
        Assert.Equal("any", Decide(new("POST", "orders.example.com", "/orders")).Route);
        Assert.Equal("any", Decide(new("GET", "other.example.com", "/orders")).Route);

        // path_prefix is a plain string prefix, as in Envoy's route match.
        Assert.Equal("orders-read", Decide(new("GET", "orders.example.com", "/ordersx")).Route);
    }

    [Fact]
    public void Exact_path_ignores_the_query_string()
    {
        var decision = Decide(new("GET", "anything", "/healthz?verbose=1"));
        Assert.True(decision.Allowed);
        Assert.Equal("health", decision.Route);
        Assert.Equal("any", Decide(new("GET", "anything", "/healthz/more")).Route);
    }

    [Fact]
    public void Path_regex_matches_the_whole_path()
    {
        Assert.Equal("admin", Decide(new("GET", "h", "/admin/42")).Route);
        Assert.Equal("any", Decide(new("GET", "h", "/admin/42/x")).Route);
    }

    [Fact]
    public void All_requires_every_part()
    {
        var admin = Valid("""{"role":"owner"}""");
        Assert.False(Decide(new("GET", "h", "/admin/1"), new() { ["corp"] = admin }).Allowed);
        Assert.True(Decide(new("GET", "h", "/admin/1"), new() { ["corp"] = admin, ["partners"] = Valid("{}") }).Allowed);
        var wrongRole = Decide(new("GET", "h", "/admin/1"), new() { ["corp"] = Valid("""{"role":["viewer"]}"""), ["partners"] = Valid("{}") });
        Assert.Equal((403, "claim 'role' does not have a required value"), (wrongRole.Status, wrongRole.Description));
    }

    [Fact]
    public void Wildcard_host_with_header_presence_denies()
    {
        var denied = Decide(new("GET", "api.internal.example.com", "/x", new() { ["x-debug"] = "" }));
        Assert.Equal((false, 403, "internal"), (denied.Allowed, denied.Status, denied.Route));
        Assert.Equal("any", Decide(new("GET", "internal.example.com", "/x", new() { ["x-debug"] = "1" })).Route);
        Assert.Equal("any", Decide(new("GET", "api.internal.example.com", "/x")).Route);
    }

    [Fact]
    public void Allow_missing_lets_anonymous_in_but_not_a_bad_token()
    {
        Assert.True(Decide(new("GET", "h", "/public/a")).Allowed);
        Assert.Equal(401, Decide(new("GET", "h", "/public/a"), new() { ["corp"] = Expired }).Status);
        Assert.True(Decide(new("GET", "h", "/public/a"), new() { ["corp"] = Valid("{}") }).Allowed);
    }

    [Fact]
    public void Any_allows_with_either_provider_and_reports_the_present_tokens_failure()
    {
        Assert.True(Decide(new("GET", "h", "/x"), new() { ["partners"] = Valid("""{"aud":"partner-api"}""") }).Allowed);
        var decision = Decide(new("GET", "h", "/x"), new() { ["partners"] = Valid("""{"aud":"other"}""") });
        Assert.Equal((403, "audience is not accepted"), (decision.Status, decision.Description));
        Assert.Equal(401, Decide(new("GET", "h", "/x")).Status);
    }

    [Fact]
    public void No_matching_route_is_403_unless_default_allow()
    {
        AuthRoute[] only = [new("one", new RouteMatch(path: "/one"), Requirement.Allow)];
        var denied = Decide(new("GET", "h", "/two"), routes: only);
        Assert.Equal((false, 403, "no route matches this request"), (denied.Allowed, denied.Status, denied.Description));
        Assert.True(Decide(new("GET", "h", "/two"), routes: only, defaultAllow: true).Allowed);
    }

    [Fact]
    public void First_matching_route_wins_in_declared_order()
    {
        AuthRoute[] ordered = [new("deny", new RouteMatch(pathPrefix: "/"), Requirement.Deny), new("allow", new RouteMatch(path: "/x"), Requirement.Allow)];
        Assert.Equal("deny", Decide(new("GET", "h", "/x"), routes: ordered).Route);
    }

    [Theory]
    [InlineData("example.com", "example.com", true)]
    [InlineData("example.com", "EXAMPLE.com:8443", true)]
    [InlineData("*.example.com", "a.example.com", true)]
    [InlineData("*.example.com", "a.b.example.com", true)]
    [InlineData("*.example.com", "example.com", false)]
    [InlineData("*.example.com", "evilexample.com", false)]
    [InlineData("example.com", "example.com.evil", false)]
    public void Host_matching(string pattern, string host, bool matches) => Assert.Equal(matches, RouteMatch.HostMatches(pattern, host));
}
