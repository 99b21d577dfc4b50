using Sidecars.RateLimiting;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.RateLimiting;

/// <summary>envoyproxy/ratelimit's descriptor matching rules, one test each.</summary>
public sealed class DescriptorMatchingTests
{
    private const string Config = """
        domain: d
        descriptors:
          - key: k
            value: exact
            rate_limit: { unit: minute, requests_per_unit: 1, name: exact }
          - key: k
            value: pre*
            rate_limit: { unit: minute, requests_per_unit: 2, name: wildcard-prefix }
          - key: k
            value: "*fix"
            rate_limit: { unit: minute, requests_per_unit: 3, name: wildcard-suffix }
          - key: k
            value: a*b*c
            rate_limit: { unit: minute, requests_per_unit: 4, name: wildcard-many }
          - key: k
            rate_limit: { unit: minute, requests_per_unit: 5, name: default }
          - key: parent
            value: p
            rate_limit: { unit: minute, requests_per_unit: 6, name: parent }
            descriptors:
              - key: child
                rate_limit: { unit: minute, requests_per_unit: 7, name: child }
          - key: group
            descriptors:
              - key: leaf
                value: x
                rate_limit: { unit: minute, requests_per_unit: 8, name: leaf }
          - key: nolimit
            value: v
        """;

    private static string? MatchedName(string domain, params (string, string)[] entries)
    {
        using var engine = new TestEngine(Config);
        var outcome = engine.Decide(domain, entries).Single;
        return outcome.Limit?.Name;
    }

    [Fact]
    public void Exact_key_value_wins_over_wildcard_and_default() =>
        Assert.Equal("exact", MatchedName("d", ("k", "exact")));

    [Fact]
    public void Wildcard_value_matches_when_no_exact_value() =>
        Assert.Equal("wildcard-prefix", MatchedName("d", ("k", "prefix-anything")));

    [Fact]
    public void Wildcard_star_can_lead_the_value() =>
        Assert.Equal("wildcard-suffix", MatchedName("d", ("k", "the-suffix")));

    [Fact]
    public void Wildcard_star_can_appear_several_times() =>
        Assert.Equal("wildcard-many", MatchedName("d", ("k", "a-1-b-2-c")));

    [Fact]
    public void Wildcard_value_matches_in_file_order()
    {
        // "prefix" matches both pre* and *fix: the first declared wins.
        Assert.Equal("wildcard-prefix", MatchedName("d", ("k", "prefix")));
    }

    [Fact]
    public void Key_only_default_applies_when_no_value_matches() =>
        Assert.Equal("default", MatchedName("d", ("k", "other")));

    [Fact]
    public void Literal_star_value_in_request_matches_exactly() =>
        Assert.Equal("wildcard-prefix", MatchedName("d", ("k", "pre*")));

    [Fact]
    public void Limit_applies_only_at_the_last_request_entry()
    {
        // parent=p has a limit, but the request goes one level deeper to child.
        Assert.Equal("child", MatchedName("d", ("parent", "p"), ("child", "c")));
        Assert.Equal("parent", MatchedName("d", ("parent", "p")));
    }

    [Fact]
    public void Request_deeper_than_config_gets_no_limit()
    {
        // k=exact has no children, so the extra entry leaves the descriptor without a limit.
        Assert.Null(MatchedName("d", ("k", "exact"), ("extra", "x")));
    }

    [Fact]
    public void Request_shallower_than_config_gets_no_limit() =>
        Assert.Null(MatchedName("d", ("group", "g")));

    [Fact]
    public void Nested_key_only_parent_leads_to_exact_leaf() =>
        Assert.Equal("leaf", MatchedName("d", ("group", "anything"), ("leaf", "x")));

    [Fact]
    public void No_backtracking_after_a_more_specific_match()
    {
        // parent=p matches exactly, then its children have no 'other' key: envoyproxy/ratelimit does not
        // go back to try a key-only 'parent', so there is no limit.
        Assert.Null(MatchedName("d", ("parent", "p"), ("other", "x")));
    }

    [Fact]
    public void Unknown_domain_is_ok_without_limit()
    {
        using var engine = new TestEngine(Config);
        var result = engine.Decide("unknown", [("k", "exact")]);
        Assert.True(result.Allowed);
        Assert.Null(result.Single.Limit);
        Assert.Equal(RateLimitCode.Ok, result.Single.Code);
    }

    [Fact]
    public void Unmatched_descriptor_is_ok_without_limit()
    {
        using var engine = new TestEngine(Config);
        var result = engine.Decide("d", [("nope", "x")]);
        Assert.True(result.Allowed);
        Assert.Null(result.Single.Limit);
    }

    [Fact]
    public void Descriptor_without_rate_limit_is_ok_without_limit() =>
        Assert.Null(MatchedName("d", ("nolimit", "v")));

    [Fact]
    public void Each_value_of_a_default_key_has_its_own_bucket()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: ip
                rate_limit: { unit: minute, requests_per_unit: 1 }
            """);
        Assert.True(engine.Hit("d", "ip", "10.0.0.1").Allowed);
        Assert.False(engine.Hit("d", "ip", "10.0.0.1").Allowed);
        Assert.True(engine.Hit("d", "ip", "10.0.0.2").Allowed);
    }

    [Fact]
    public void Separators_in_values_do_not_make_two_descriptors_share_a_bucket()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: a
                rate_limit: { unit: minute, requests_per_unit: 1 }
                descriptors:
                  - key: b
                    rate_limit: { unit: minute, requests_per_unit: 1 }
            """);
        Assert.True(engine.Decide("d", [("a", "x"), ("b", "y")]).Allowed);

        // Without escaping, the value "x|b=y" would write the same bucket key as the two entries above.
        Assert.True(engine.Decide("d", [("a", "x|b=y")]).Allowed);
    }

    [Fact]
    public void Unlimited_reports_max_remaining_and_no_limit()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: k
                rate_limit: { unlimited: true }
            """);
        for (var i = 0; i < 5; i++)
        {
            var outcome = engine.Hit("d", "k", "v").Single;
            Assert.Equal(RateLimitCode.Ok, outcome.Code);
            Assert.True(outcome.Unlimited);
            Assert.Equal(uint.MaxValue, outcome.Remaining);
            Assert.Null(outcome.Limit);
        }
    }

    [Fact]
    public void Replaces_drops_the_named_limit_of_another_descriptor()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: plan
                value: free
                rate_limit: { unit: minute, requests_per_unit: 1, name: free }
              - key: plan
                value: premium
                rate_limit: { unit: minute, requests_per_unit: 100, replaces: [{ name: free }] }
            """);
        (string, string)[] free = [("plan", "free")];
        (string, string)[] premium = [("plan", "premium")];
        var result = engine.Decide("d", free, premium);
        Assert.Null(result.Outcomes[0].Limit);
        Assert.Equal(100u, result.Outcomes[1].Limit!.RequestsPerUnit);

        // Still replaced: the free bucket was never charged.
        Assert.True(engine.Decide("d", free, premium).Allowed);

        // Without the premium descriptor the free limit applies again, and its bucket is still full.
        Assert.True(engine.Decide("d", free).Allowed);
        Assert.False(engine.Decide("d", free).Allowed);
    }

    [Fact]
    public void Request_limit_override_replaces_the_configured_limit()
    {
        using var engine = new TestEngine(Config);
        var descriptor = new TestEngine.Descriptor([("k", "exact")], Override: (3, RateLimitUnit.Hour));
        for (var i = 0; i < 3; i++)
        {
            var result = engine.Decide("d", [descriptor]);
            Assert.True(result.Allowed);
            Assert.Equal(3u, result.Single.Limit!.RequestsPerUnit);
            Assert.Equal(RateLimitUnit.Hour, result.Single.Limit.Unit);
        }

        Assert.False(engine.Decide("d", [descriptor]).Allowed);
    }

    [Fact]
    public void Request_limit_override_applies_even_without_a_matching_descriptor()
    {
        using var engine = new TestEngine(Config);
        var descriptor = new TestEngine.Descriptor([("unmatched", "x")], Override: (1, RateLimitUnit.Minute));
        Assert.True(engine.Decide("d", [descriptor]).Allowed);
        Assert.False(engine.Decide("d", [descriptor]).Allowed);
    }

    [Fact]
    public void Per_rule_shadow_mode_answers_ok_when_over_limit()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: k
                shadow_mode: true
                rate_limit: { unit: minute, requests_per_unit: 1 }
            """);
        Assert.True(engine.Hit("d", "k", "v").Allowed);
        var second = engine.Hit("d", "k", "v");
        Assert.True(second.Allowed);
        Assert.Equal(RateLimitCode.Ok, second.Single.Code);
        Assert.True(second.Single.ShadowedOverLimit);
        Assert.Equal(0u, second.Single.Remaining);
    }

    [Fact]
    public void Global_shadow_mode_answers_ok_overall_but_reports_over_limit_descriptors()
    {
        using var engine = new TestEngine(
            """
            domain: d
            descriptors:
              - key: k
                rate_limit: { unit: minute, requests_per_unit: 1 }
            """,
            new RateLimitEngineOptions { GlobalShadowMode = true });
        Assert.True(engine.Hit("d", "k", "v").Allowed);
        var second = engine.Hit("d", "k", "v");
        Assert.Equal(RateLimitCode.Ok, second.Code);
        Assert.Equal(RateLimitCode.OverLimit, second.Single.Code);
    }

    [Theory]
    [InlineData("")]
    public void Empty_domain_is_a_request_error(string domain)
    {
        using var engine = new TestEngine(Config);
        var error = Assert.Throws<RateLimitRequestException>(() => engine.Decide(domain, [("k", "v")]));
        Assert.Equal("rate limit domain must not be empty", error.Message);
    }

    [Fact]
    public void Empty_descriptor_list_is_a_request_error()
    {
        using var engine = new TestEngine(Config);
        var error = Assert.Throws<RateLimitRequestException>(() => engine.Decide("d", Array.Empty<TestEngine.Descriptor>()));
        Assert.Equal("rate limit descriptor list must not be empty", error.Message);
    }

    [Fact]
    public void Statuses_follow_request_order()
    {
        using var engine = new TestEngine(Config);
        var result = engine.Decide("d", [("k", "exact")], [("nope", "x")], [("k", "other")]);
        Assert.Equal(3, result.Outcomes.Length);
        Assert.Equal("exact", result.Outcomes[0].Limit!.Name);
        Assert.Null(result.Outcomes[1].Limit);
        Assert.Equal("default", result.Outcomes[2].Limit!.Name);
    }
}
