using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;

namespace Sidecars.Load.Scenarios;

/// <summary>The scenarios by name. rls-memory-* and rls-redis-* send the same messages: the store is the server's setup.</summary>
public static class ScenarioCatalog
{
    public static readonly IReadOnlyList<string> Names =
        ["check-cached", "check+limit", "check-cold", "check-deny", "rls-memory-1", "rls-memory-3", "rls-redis-1", "rls-redis-3", "mixed"];

    /// <summary>True for the scenarios that need a sidecar started with <c>--redis</c>.</summary>
    public static bool NeedsRedis(string scenario) => scenario.StartsWith("rls-redis-", StringComparison.Ordinal);

    /// <exception cref="ArgumentException">Not a scenario name.</exception>
    public static Scenario Create(string name, PreparedConfig config) => name switch
    {
        "check-cached" => Cached(config),
        "check+limit" => Limited(config),
        "check-cold" => Pool(name, config.Pool.ColdTokens, Outcome.Allow),
        "check-deny" => Deny(config),
        "rls-memory-1" or "rls-redis-1" => RateLimit(name, 1),
        "rls-memory-3" or "rls-redis-3" => RateLimit(name, 3),
        "mixed" => new MixedScenario(Cached(config), Deny(config), RateLimit("rls-memory-1", 1)),
        _ => throw new ArgumentException($"unknown scenario '{name}' (known: {string.Join(", ", Names)})", nameof(name)),
    };

    private static CheckScenario Cached(PreparedConfig config) => Pool("check-cached", config.Pool.Tokens, Outcome.Allow);

    /// <summary>
    /// Issue 9's one-call path: the cached tokens on the host a service file owns, whose route authenticates, holds
    /// five rules and charges a per-user bucket (a limit no run reaches) inside the same Check.
    /// </summary>
    private static CheckScenario Limited(PreparedConfig config)
    {
        var tokens = config.Pool.Tokens;
        var requests = new CheckRequest[tokens.Count];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = EnvoyMessages.Check(i % PreparedConfig.Users, "Bearer " + tokens[i], PreparedConfig.LimitedHost);
        }

        return new CheckScenario("check+limit", requests, [Outcome.Allow]);
    }

    private static CheckScenario Pool(string name, List<string> tokens, Outcome expected)
    {
        var requests = new CheckRequest[tokens.Count];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = EnvoyMessages.Check(i % PreparedConfig.Users, "Bearer " + tokens[i]);
        }

        return new CheckScenario(name, requests, [expected]);
    }

    /// <summary>Five kinds in turn: not a JWT, expired, wrong audience (403: a valid token without the grant), bad signature, no token.</summary>
    private static CheckScenario Deny(PreparedConfig config)
    {
        var pool = config.Pool;
        var count = PreparedConfig.DenyTokensPerKind;
        var requests = new CheckRequest[count * 5];
        var expected = new Outcome[count * 5];
        for (var i = 0; i < count; i++)
        {
            Set(5 * i, "Bearer not-a-jwt." + i, Outcome.Deny401);
            Set(5 * i + 1, "Bearer " + pool.ExpiredTokens[i], Outcome.Deny401);
            Set(5 * i + 2, "Bearer " + pool.WrongAudienceTokens[i], Outcome.Deny403);
            Set(5 * i + 3, "Bearer " + pool.BadSignatureTokens[i], Outcome.Deny401);
            Set(5 * i + 4, null, Outcome.Deny401);
        }

        return new CheckScenario("check-deny", requests, expected);

        void Set(int slot, string? authorization, Outcome outcome)
        {
            requests[slot] = EnvoyMessages.Check(slot % PreparedConfig.Users, authorization);
            expected[slot] = outcome;
        }
    }

    private static RateLimitScenario RateLimit(string name, int descriptors)
    {
        var requests = new RateLimitRequest[PreparedConfig.Users];
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i] = EnvoyMessages.RateLimit(i, descriptors);
        }

        return new RateLimitScenario(name, requests);
    }
}
