using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.RateLimiting;

public sealed class InMemoryStoreTests
{
    private const string PerKey = """
        domain: d
        descriptors:
          - key: k
            rate_limit: { unit: hour, requests_per_unit: 100 }
          - key: pair
            rate_limit: { unit: hour, requests_per_unit: 1000 }
            descriptors:
              - key: other
                rate_limit: { unit: hour, requests_per_unit: 50 }
        """;

    [Fact]
    public async Task Parallel_callers_on_one_key_never_get_more_than_the_limit()
    {
        using var engine = new TestEngine(PerKey);
        var allowed = 0;
        var workers = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 500; i++)
            {
                if (engine.Hit("d", "k", "hot").Allowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        }));
        await Task.WhenAll(workers);
        Assert.Equal(100, allowed);
    }

    [Fact]
    public async Task Parallel_multi_descriptor_requests_stay_all_or_nothing()
    {
        using var engine = new TestEngine(PerKey);
        var allowed = 0;
        (string, string)[] shared = [("k", "shared")];
        var workers = Enumerable.Range(0, 8).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < 300; i++)
            {
                // Each request needs the shared bucket and a per-worker one (50 per hour).
                if (engine.Decide("d", shared, [("pair", "p"), ("other", w.ToString(System.Globalization.CultureInfo.InvariantCulture))]).Allowed)
                {
                    Interlocked.Increment(ref allowed);
                }
            }
        }));
        await Task.WhenAll(workers);

        // 100 shared tokens went to allowed requests only: none was lost to a denied one.
        Assert.Equal(100, allowed);
        Assert.False(engine.Hit("d", "k", "shared").Allowed);
    }

    [Fact]
    public void Store_keeps_at_most_max_keys()
    {
        using var engine = new TestEngine(PerKey, storeOptions: new InMemoryStoreOptions { MaxKeys = 10 });
        for (var i = 0; i < 25; i++)
        {
            Assert.True(engine.Hit("d", "k", "user" + i).Allowed);
        }

        Assert.Equal(10, engine.Store.Count);
        Assert.Equal(15, engine.Store.UntrackedDecisions);
    }

    [Fact]
    public void Idle_keys_expire_once_their_bucket_is_full_again()
    {
        using var engine = new TestEngine(PerKey, storeOptions: new InMemoryStoreOptions { MaxKeys = 10, SweepInterval = TimeSpan.FromMinutes(1) });
        for (var i = 0; i < 10; i++)
        {
            engine.Hit("d", "k", "user" + i);
        }

        Assert.Equal(10, engine.Store.Count);

        // One hit of 100 per hour is refilled after 36 s; the sweep timer then forgets the bucket.
        engine.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, engine.Store.Count);
        Assert.True(engine.Hit("d", "k", "new-user").Allowed);
        Assert.Equal(1, engine.Store.Count);
    }

    [Fact]
    public void A_key_in_use_survives_the_sweep_though_its_bucket_refills_at_once()
    {
        // 100 per second: one hit is refilled after 10 ms, so at the sweep (60 s) both buckets are full again. The
        // one hit 3 s before the sweep is in use and stays; the one idle since 0 s goes; at the next sweep both are gone.
        const string perSecond = """
            domain: d
            descriptors:
              - key: k
                rate_limit: { unit: second, requests_per_unit: 100 }
            """;
        using var engine = new TestEngine(perSecond, storeOptions: new InMemoryStoreOptions { MaxKeys = 10, SweepInterval = TimeSpan.FromMinutes(1) });
        engine.Hit("d", "k", "busy");
        engine.Hit("d", "k", "quiet");
        engine.Time.Advance(TimeSpan.FromSeconds(57));
        engine.Hit("d", "k", "busy");
        Assert.Equal(2, engine.Store.Count);
        engine.Time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(1, engine.Store.Count);
        engine.Time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(0, engine.Store.Count);
    }

    [Fact]
    public void A_full_store_sweeps_idle_keys_to_admit_new_ones()
    {
        using var engine = new TestEngine(PerKey, storeOptions: new InMemoryStoreOptions { MaxKeys = 5, SweepInterval = TimeSpan.FromDays(1) });
        for (var i = 0; i < 5; i++)
        {
            engine.Hit("d", "k", "old" + i);
        }

        engine.Time.Advance(TimeSpan.FromMinutes(5));
        engine.Hit("d", "k", "new");

        // The new key is stored, and the idle ones are gone but for one in the new key's own stripe, which the
        // request holds and the sweep leaves alone (stripes come from a randomized hash: about 1 run in 200 has an
        // old key there; two of five would be 1 in 100,000).
        Assert.Equal(0, engine.Store.UntrackedDecisions);
        Assert.InRange(engine.Store.Count, 1, 2);

        // The timer's next sweep takes that one too (idle since 36 s), and keeps the new key (full again only at 5:36).
        engine.Time.Advance(TimeSpan.FromSeconds(10));
        engine.Store.Sweep();
        Assert.Equal(1, engine.Store.Count);
    }
}
