using Sidecars.RateLimiting;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.RateLimiting;

/// <summary>GCRA token bucket and fixed window arithmetic on a fake clock.</summary>
public sealed class TokenBucketTests
{
    private static TestEngine Engine(string limit) => new($$"""
        domain: d
        descriptors:
          - key: k
            rate_limit: {{limit}}
        """);

    [Fact]
    public void Full_bucket_allows_a_burst_of_requests_per_unit_then_denies()
    {
        using var engine = Engine("{ unit: second, requests_per_unit: 5 }");
        for (var i = 4; i >= 0; i--)
        {
            var outcome = engine.Hit("d", "k", "v").Single;
            Assert.Equal(RateLimitCode.Ok, outcome.Code);
            Assert.Equal((uint)i, outcome.Remaining);
        }

        var denied = engine.Hit("d", "k", "v").Single;
        Assert.Equal(RateLimitCode.OverLimit, denied.Code);
        Assert.Equal(0u, denied.Remaining);

        // The next token arrives after T = 1 s / 5.
        Assert.Equal(200_000_000, denied.ResetAfterNanos);
    }

    [Fact]
    public void Burst_sets_the_capacity_independently_of_the_rate()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 60, burst: 3 }");
        Assert.Equal(2u, engine.Hit("d", "k", "v").Single.Remaining);
        engine.Hit("d", "k", "v");
        engine.Hit("d", "k", "v");
        Assert.False(engine.Hit("d", "k", "v").Allowed);

        // One token per second at 60/minute.
        engine.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(engine.Hit("d", "k", "v").Allowed);
        Assert.False(engine.Hit("d", "k", "v").Allowed);
    }

    [Fact]
    public void Tokens_refill_steadily_not_at_a_window_edge()
    {
        using var engine = Engine("{ unit: second, requests_per_unit: 10 }");
        for (var i = 0; i < 10; i++)
        {
            Assert.True(engine.Hit("d", "k", "v").Allowed);
        }

        Assert.False(engine.Hit("d", "k", "v").Allowed);
        engine.Time.Advance(TimeSpan.FromMilliseconds(99));
        Assert.False(engine.Hit("d", "k", "v").Allowed);
        engine.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(engine.Hit("d", "k", "v").Allowed);
        Assert.False(engine.Hit("d", "k", "v").Allowed);

        // Half a second later, five tokens are back; the bucket never holds more than its capacity.
        engine.Time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(4u, engine.Hit("d", "k", "v").Single.Remaining);
        engine.Time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(9u, engine.Hit("d", "k", "v").Single.Remaining);
    }

    [Fact]
    public void Reset_of_an_allowed_request_is_the_time_until_the_bucket_is_full()
    {
        using var engine = Engine("{ unit: second, requests_per_unit: 4 }");
        Assert.Equal(250_000_000, engine.Hit("d", "k", "v").Single.ResetAfterNanos);
        Assert.Equal(500_000_000, engine.Hit("d", "k", "v").Single.ResetAfterNanos);
    }

    [Fact]
    public void Hits_addend_greater_than_one_takes_that_many_tokens()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 10 }");
        var three = new TestEngine.Descriptor([("k", "v")], Hits: 3);
        Assert.Equal(7u, engine.Decide("d", [three]).Single.Remaining);
        Assert.Equal(4u, engine.Decide("d", [three]).Single.Remaining);
        Assert.Equal(1u, engine.Decide("d", [three]).Single.Remaining);

        // Three do not fit in one, and a denied request takes nothing.
        Assert.False(engine.Decide("d", [three]).Allowed);
        Assert.Equal(0u, engine.Hit("d", "k", "v").Single.Remaining);
    }

    [Fact]
    public void Request_level_hits_addend_applies_to_descriptors_without_their_own()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 10 }");
        var result = engine.Decide("d", [new TestEngine.Descriptor([("k", "v")])], hitsAddend: 4);
        Assert.Equal(6u, result.Single.Remaining);
    }

    [Fact]
    public void Hits_beyond_the_bucket_capacity_are_always_over_limit()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 10 }");
        Assert.False(engine.Decide("d", [new TestEngine.Descriptor([("k", "v")], Hits: 11)]).Allowed);
        Assert.Equal(9u, engine.Hit("d", "k", "v").Single.Remaining);
    }

    [Fact]
    public void Zero_hits_addend_checks_without_consuming()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 2 }");
        var check = new TestEngine.Descriptor([("k", "v")], Hits: 0);
        Assert.Equal(2u, engine.Decide("d", [check]).Single.Remaining);
        Assert.Equal(2u, engine.Decide("d", [check]).Single.Remaining);
        engine.Hit("d", "k", "v");
        engine.Hit("d", "k", "v");
        var exhausted = engine.Decide("d", [check]);
        Assert.False(exhausted.Allowed);
        Assert.Equal(0u, exhausted.Single.Remaining);
    }

    [Fact]
    public void Zero_requests_per_unit_denies_everything()
    {
        using var engine = Engine("{ unit: second, requests_per_unit: 0 }");
        Assert.False(engine.Hit("d", "k", "v").Allowed);
    }

    [Fact]
    public void A_denied_request_consumes_nothing_from_any_descriptor()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: roomy
                rate_limit: { unit: minute, requests_per_unit: 100 }
              - key: tight
                rate_limit: { unit: minute, requests_per_unit: 1 }
            """);
        (string, string)[] roomy = [("roomy", "x")];
        (string, string)[] tight = [("tight", "x")];
        Assert.True(engine.Decide("d", roomy, tight).Allowed);
        for (var i = 0; i < 5; i++)
        {
            var denied = engine.Decide("d", roomy, tight);
            Assert.False(denied.Allowed);
            Assert.Equal(RateLimitCode.Ok, denied.Outcomes[0].Code);
            Assert.Equal(RateLimitCode.OverLimit, denied.Outcomes[1].Code);
        }

        // Only the one allowed request was charged to the roomy bucket.
        Assert.Equal(98u, engine.Decide("d", roomy).Single.Remaining);
    }

    [Fact]
    public void Two_descriptors_on_one_bucket_are_both_charged()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 3 }");
        (string, string)[] same = [("k", "v")];
        var result = engine.Decide("d", same, same);
        Assert.Equal([2u, 1u], result.Outcomes.Select(o => o.Remaining));
        Assert.False(engine.Decide("d", same, same).Allowed);
        Assert.True(engine.Decide("d", same).Allowed);
    }

    [Fact]
    public void Several_limits_on_one_descriptor_all_apply_and_the_tightest_is_reported()
    {
        using var engine = new TestEngine("""
            domain: d
            descriptors:
              - key: k
                rate_limits:
                  - { name: per-second, unit: second, requests_per_unit: 3 }
                  - { name: per-day, unit: day, requests_per_unit: 5 }
            """);
        var first = engine.Hit("d", "k", "v").Single;
        Assert.Equal("per-second", first.Limit!.Name);
        Assert.Equal(2u, first.Remaining);
        engine.Hit("d", "k", "v");
        engine.Hit("d", "k", "v");
        var burst = engine.Hit("d", "k", "v").Single;
        Assert.Equal(RateLimitCode.OverLimit, burst.Code);
        Assert.Equal("per-second", burst.Limit!.Name);

        // A second later the per-second bucket is full again, and the daily quota is the tighter one.
        engine.Time.Advance(TimeSpan.FromSeconds(1));
        var fourth = engine.Hit("d", "k", "v").Single;
        Assert.Equal("per-day", fourth.Limit!.Name);
        Assert.Equal(1u, fourth.Remaining);
        Assert.Equal(0u, engine.Hit("d", "k", "v").Single.Remaining);

        engine.Time.Advance(TimeSpan.FromSeconds(1));
        var daily = engine.Hit("d", "k", "v").Single;
        Assert.Equal(RateLimitCode.OverLimit, daily.Code);
        Assert.Equal("per-day", daily.Limit!.Name);
    }

    [Fact]
    public void Fixed_window_counts_per_unit_aligned_window()
    {
        using var engine = Engine("{ unit: minute, requests_per_unit: 3, algorithm: fixed_window }");

        // The fake clock starts on a minute boundary; move to 50 s into that minute.
        engine.Time.Advance(TimeSpan.FromSeconds(50));
        var first = engine.Hit("d", "k", "v").Single;
        Assert.Equal(2u, first.Remaining);
        Assert.Equal(10 * RateLimitUnits.NanosPerSecond, first.ResetAfterNanos);
        engine.Hit("d", "k", "v");
        engine.Hit("d", "k", "v");
        Assert.False(engine.Hit("d", "k", "v").Allowed);

        // A new window starts on the minute, not 60 s after the first hit.
        engine.Time.Advance(TimeSpan.FromSeconds(10));
        var fresh = engine.Hit("d", "k", "v").Single;
        Assert.Equal(RateLimitCode.Ok, fresh.Code);
        Assert.Equal(2u, fresh.Remaining);
        Assert.Equal(60 * RateLimitUnits.NanosPerSecond, fresh.ResetAfterNanos);
    }

    [Theory]
    [InlineData("week", 7 * 86_400)]
    [InlineData("month", 30 * 86_400)]
    [InlineData("year", 365 * 86_400)]
    public void Long_units_last_as_envoyproxy_ratelimit_counts_them(string unit, long seconds)
    {
        using var engine = Engine($"{{ unit: {unit}, requests_per_unit: 1 }}");
        engine.Hit("d", "k", "v");
        engine.Time.Advance(TimeSpan.FromSeconds(seconds - 1));
        Assert.False(engine.Hit("d", "k", "v").Allowed);
        engine.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(engine.Hit("d", "k", "v").Allowed);
    }
}
