using Sidecars.Config;
using Sidecars.RateLimiting;
using Sidecars.Redis;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Redis;

public sealed class RedisStoreTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Concurrent_decisions_are_coalesced_into_fewer_script_calls_and_stay_exact()
    {
        var state = new ConfigState();
        state.Publish(ConfigLoader.Compile(
            [new ConfigSource("c.yaml", "domain: c\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 100 }\n  - key: other\n    rate_limit: { unit: hour, requests_per_unit: 1000 }\n")],
            new ConfigDiagnostics())!);
        await using var store = await RedisBucketStore.ConnectAsync(
            new RedisStoreOptions { Configuration = redis.Server.Configuration, OperationTimeout = TimeSpan.FromSeconds(5), MaxScriptsInFlight = 1, OverLimitCacheSize = 0 },
            TimeProvider.System);
        var engine = new RateLimitEngine(state, store);
        var run = Guid.NewGuid().ToString("N");

        async Task<RateLimitCode> Decide(int i)
        {
            var query = new RateLimitQuery { Domain = "c" };
            query.BeginDescriptor();
            query.AddEntry("user", run);
            query.BeginDescriptor();
            query.AddEntry("other", run + (i % 3));
            return await engine.DecideAsync(query);
        }

        var codes = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(() => Decide(i))));

        Assert.Equal(100, codes.Count(c => c == RateLimitCode.Ok));
        var counters = store.Status().Counters;
        Assert.Equal(400, counters["calls"]);
        Assert.True(counters["script_calls"] < 400, $"{counters["script_calls"]} script calls for 400 concurrent decisions");

        // Denied decisions charged nothing: the three 'other' buckets hold exactly the 100 allowed hits.
        var other = 0L;
        for (var i = 0; i < 3; i++)
        {
            var query = new RateLimitQuery { Domain = "c" };
            query.BeginDescriptor(hitsAddend: 0);
            query.AddEntry("other", run + i);
            await engine.DecideAsync(query);
            other += 1000 - query.Outcomes[0].Remaining;
        }

        Assert.Equal(100, other);
    }
}
