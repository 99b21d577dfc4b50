using Sidecars.Config;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.RateLimiting;

/// <summary>
/// One behaviour suite, run against every store: the same requests must get the same decisions in memory
/// and in Redis. The limits are per hour or day, so the real clocks (Redis uses its own) cannot move an outcome.
/// </summary>
public abstract class StoreBehaviourTests : IAsyncLifetime
{
    internal const string Config = """
        domain: d
        descriptors:
          - key: burst
            rate_limit: { unit: hour, requests_per_unit: 5 }
          - key: roomy
            rate_limit: { unit: hour, requests_per_unit: 100 }
          - key: burst_cap
            rate_limit: { unit: hour, requests_per_unit: 10, burst: 3 }
          - key: window
            rate_limit: { unit: day, requests_per_unit: 3, algorithm: fixed_window }
          - key: layered
            rate_limits:
              - { name: hourly, unit: hour, requests_per_unit: 3 }
              - { name: daily, unit: day, requests_per_unit: 4 }
          - key: shadow
            shadow_mode: true
            rate_limit: { unit: hour, requests_per_unit: 1 }
          - key: zero
            rate_limit: { unit: hour, requests_per_unit: 0 }
        """;

    private readonly string _run = Guid.NewGuid().ToString("N");
    private IBucketStore _store = null!;

    protected RateLimitEngine Engine { get; private set; } = null!;

    protected abstract Task<IBucketStore> CreateStoreAsync();

    public async Task InitializeAsync()
    {
        var state = TestConfig.State(Config);
        _store = await CreateStoreAsync();
        Engine = new RateLimitEngine(state, _store);
    }

    public async Task DisposeAsync()
    {
        switch (_store)
        {
            case IAsyncDisposable disposable:
                await disposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    /// <summary>Decides one request; values are made unique to this test run so runs never share buckets.</summary>
    protected async Task<(RateLimitCode Code, DescriptorOutcome[] Outcomes)> Decide(params (string Key, long Hits)[] descriptors)
    {
        var query = new RateLimitQuery { Domain = "d" };
        foreach (var (key, hits) in descriptors)
        {
            query.BeginDescriptor(hits);
            query.AddEntry(key, _run);
        }

        var code = await Engine.DecideAsync(query);
        return (code, query.Outcomes.ToArray());
    }

    private Task<(RateLimitCode Code, DescriptorOutcome[] Outcomes)> Hit(string key) => Decide((key, -1));

    [Fact]
    public async Task Full_bucket_takes_its_burst_then_denies()
    {
        for (var remaining = 4; remaining >= 0; remaining--)
        {
            var (code, outcomes) = await Hit("burst");
            Assert.Equal(RateLimitCode.Ok, code);
            Assert.Equal((uint)remaining, outcomes[0].Remaining);
        }

        var denied = await Hit("burst");
        Assert.Equal(RateLimitCode.OverLimit, denied.Code);
        Assert.Equal(0u, denied.Outcomes[0].Remaining);

        // The next token of 5 per hour comes 12 minutes after the first hit.
        Assert.InRange(denied.Outcomes[0].ResetAfterNanos, 11 * 60 * RateLimitUnits.NanosPerSecond, 12 * 60 * RateLimitUnits.NanosPerSecond);
    }

    [Fact]
    public async Task Burst_caps_the_bucket_below_the_rate()
    {
        Assert.Equal(2u, (await Hit("burst_cap")).Outcomes[0].Remaining);
        await Hit("burst_cap");
        await Hit("burst_cap");
        Assert.Equal(RateLimitCode.OverLimit, (await Hit("burst_cap")).Code);
    }

    [Fact]
    public async Task A_denied_request_charges_no_bucket()
    {
        Assert.Equal(RateLimitCode.Ok, (await Decide(("roomy", 1), ("burst", 5))).Code);
        for (var i = 0; i < 3; i++)
        {
            var denied = await Decide(("roomy", 1), ("burst", 1));
            Assert.Equal(RateLimitCode.OverLimit, denied.Code);
            Assert.Equal(RateLimitCode.Ok, denied.Outcomes[0].Code);
        }

        Assert.Equal(98u, (await Hit("roomy")).Outcomes[0].Remaining);
    }

    [Fact]
    public async Task Hits_addend_takes_several_and_zero_only_checks()
    {
        Assert.Equal(2u, (await Decide(("burst", 3))).Outcomes[0].Remaining);
        Assert.Equal(2u, (await Decide(("burst", 0))).Outcomes[0].Remaining);
        Assert.Equal(RateLimitCode.OverLimit, (await Decide(("burst", 3))).Code);
        Assert.Equal(0u, (await Decide(("burst", 2))).Outcomes[0].Remaining);
        Assert.Equal(RateLimitCode.OverLimit, (await Decide(("burst", 0))).Code);
    }

    [Fact]
    public async Task Hits_beyond_the_capacity_never_fit()
    {
        Assert.Equal(RateLimitCode.OverLimit, (await Decide(("burst", 6))).Code);
        Assert.Equal(4u, (await Hit("burst")).Outcomes[0].Remaining);
    }

    [Fact]
    public async Task Fixed_window_counts_until_the_window_ends()
    {
        var first = await Hit("window");
        Assert.Equal(2u, first.Outcomes[0].Remaining);
        Assert.InRange(first.Outcomes[0].ResetAfterNanos, 1, 86_400 * RateLimitUnits.NanosPerSecond);
        await Hit("window");
        Assert.Equal(0u, (await Hit("window")).Outcomes[0].Remaining);
        Assert.Equal(RateLimitCode.OverLimit, (await Hit("window")).Code);
    }

    [Fact]
    public async Task Several_limits_on_one_descriptor_report_the_tightest()
    {
        var first = await Hit("layered");
        Assert.Equal("hourly", first.Outcomes[0].Limit!.Name);
        Assert.Equal(2u, first.Outcomes[0].Remaining);
        await Hit("layered");
        await Hit("layered");
        var over = await Hit("layered");
        Assert.Equal(RateLimitCode.OverLimit, over.Code);
        Assert.Equal("hourly", over.Outcomes[0].Limit!.Name);
    }

    [Fact]
    public async Task One_bucket_named_twice_in_a_request_is_charged_twice()
    {
        var result = await Decide(("burst", 1), ("burst", 1));
        Assert.Equal([4u, 3u], result.Outcomes.Select(o => o.Remaining));
        Assert.Equal(RateLimitCode.OverLimit, (await Decide(("burst", 2), ("burst", 2))).Code);
        Assert.Equal(2u, (await Hit("burst")).Outcomes[0].Remaining);
    }

    [Fact]
    public async Task Shadow_mode_limit_is_reported_but_never_denies()
    {
        await Hit("shadow");
        var shadowed = await Decide(("shadow", 1), ("roomy", 1));
        Assert.Equal(RateLimitCode.Ok, shadowed.Code);
        Assert.True(shadowed.Outcomes[0].ShadowedOverLimit);
        Assert.Equal(99u, shadowed.Outcomes[1].Remaining);
    }

    [Fact]
    public async Task Zero_rate_denies_everything()
    {
        Assert.Equal(RateLimitCode.OverLimit, (await Hit("zero")).Code);
    }
}

public sealed class InMemoryStoreBehaviourTests : StoreBehaviourTests
{
    protected override Task<IBucketStore> CreateStoreAsync() => Task.FromResult<IBucketStore>(new InMemoryBucketStore(TimeProvider.System));
}
