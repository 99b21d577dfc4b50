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
        var state = TestConfig.State("domain: c\ndescriptors:\n  - key: user\n    rate_limit: { unit: hour, requests_per_unit: 100 }\n  - key: other\n    rate_limit: { unit: hour, requests_per_unit: 1000 }\n");
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

public sealed class RedisConnectionTests
{
    [Fact]
    public async Task Acl_user_and_password_from_the_configuration_string_are_used()
    {
        using var redis = RedisServer.Start("--user", "default", "off", "--user", "sidecars", "on", ">s3cret", "~*", "+@all");
        var state = TestConfig.State("domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 1 }\n");

        await using var store = await RedisBucketStore.ConnectAsync(
            new RedisStoreOptions { Configuration = redis.Configuration + ",user=sidecars,password=s3cret", OperationTimeout = TimeSpan.FromSeconds(2) },
            TimeProvider.System);
        var engine = new RateLimitEngine(state, store);
        var query = new RateLimitQuery { Domain = "a" };
        query.BeginDescriptor();
        query.AddEntry("k", "v");
        Assert.Equal(RateLimitCode.Ok, await engine.DecideAsync(query));
        Assert.Equal(RateLimitCode.OverLimit, await engine.DecideAsync(query));
        Assert.Equal(0, store.Status().Counters["failures"]);

        // The same server refuses a client without the credentials: the failure policy answers instead.
        await using var anonymous = await RedisBucketStore.ConnectAsync(
            new RedisStoreOptions { Configuration = redis.Configuration + ",connectTimeout=500", OperationTimeout = TimeSpan.FromMilliseconds(200) },
            TimeProvider.System);
        var fallback = new RateLimitEngine(state, anonymous);
        var other = new RateLimitQuery { Domain = "a" };
        other.BeginDescriptor();
        other.AddEntry("k", "other");
        Assert.Equal(RateLimitCode.Ok, await fallback.DecideAsync(other));
        Assert.True(other.BackendUnavailable);
    }

    [Fact]
    public async Task Noscript_after_the_script_cache_is_flushed_is_answered_by_sending_the_source_once()
    {
        using var redis = RedisServer.Start();
        var state = TestConfig.State("domain: n\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 10 }\n");
        await using var store = await RedisBucketStore.ConnectAsync(new RedisStoreOptions { Configuration = redis.Configuration, OperationTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);
        var engine = new RateLimitEngine(state, store);

        async Task<uint> Remaining()
        {
            var query = new RateLimitQuery { Domain = "n" };
            query.BeginDescriptor();
            query.AddEntry("k", "v");
            await engine.DecideAsync(query);
            Assert.False(query.BackendUnavailable);
            return query.Outcomes[0].Remaining;
        }

        // Loaded at connect: the first decision is already an EVALSHA that Redis knows.
        Assert.Equal(9u, await Remaining());
        Assert.Equal(0, store.Status().Counters["script_reloads"]);

        Assert.Equal("OK", redis.Cli("SCRIPT", "FLUSH").Trim());
        Assert.Equal(8u, await Remaining());
        Assert.Equal(1, store.Status().Counters["script_reloads"]);
        Assert.Equal(7u, await Remaining());
        Assert.Equal(1, store.Status().Counters["script_reloads"]);
    }

    [Fact]
    public async Task A_bucket_key_expires_when_its_bucket_is_full_again()
    {
        using var redis = RedisServer.Start();
        var state = TestConfig.State("domain: e\ndescriptors:\n  - key: tb\n    rate_limit: { unit: hour, requests_per_unit: 1000 }\n  - key: fw\n    rate_limit: { unit: day, requests_per_unit: 10, algorithm: fixed_window }\n");
        await using var store = await RedisBucketStore.ConnectAsync(new RedisStoreOptions { Configuration = redis.Configuration, OperationTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);
        var engine = new RateLimitEngine(state, store);
        var query = new RateLimitQuery { Domain = "e" };
        query.BeginDescriptor();
        query.AddEntry("tb", "x");
        query.BeginDescriptor();
        query.AddEntry("fw", "x");
        await engine.DecideAsync(query);

        var keys = redis.Cli("--scan").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var tokenBucket = Assert.Single(keys, k => k.Contains("tb=x", StringComparison.Ordinal));
        var window = Assert.Single(keys, k => k.Contains("fw=x", StringComparison.Ordinal));

        // One hit of 1000 per hour is refilled after 3.6 s; a daily window key lives until the day ends.
        Assert.InRange(long.Parse(redis.Cli("PTTL", tokenBucket).Trim(), System.Globalization.CultureInfo.InvariantCulture), 3_000, 3_600);
        Assert.InRange(long.Parse(redis.Cli("PTTL", window).Trim(), System.Globalization.CultureInfo.InvariantCulture), 1, 86_400_000);
    }
}

public sealed class RedisDeploymentTests
{
    private static async Task AssertLimits(string configuration, string? trustedCa = null)
    {
        var state = TestConfig.State("domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: hour, requests_per_unit: 2 }\n");
        await using var store = await RedisBucketStore.ConnectAsync(
            new RedisStoreOptions { Configuration = configuration, TrustedCaFile = trustedCa, OperationTimeout = TimeSpan.FromSeconds(2) },
            TimeProvider.System);
        var engine = new RateLimitEngine(state, store);
        var codes = new List<RateLimitCode>();
        for (var i = 0; i < 3; i++)
        {
            var query = new RateLimitQuery { Domain = "a" };
            query.BeginDescriptor();
            query.AddEntry("k", "v");
            codes.Add(await engine.DecideAsync(query));
            Assert.False(query.BackendUnavailable);
        }

        Assert.Equal([RateLimitCode.Ok, RateLimitCode.Ok, RateLimitCode.OverLimit], codes);
    }

    [Fact]
    public async Task Tls_with_a_private_ca()
    {
        var directory = Directory.CreateTempSubdirectory("sidecars-tls-").FullName;
        var (certificate, key, ca) = TestCertificates.Write(directory);
        using var redis = RedisServer.StartTls(certificate, key, ca);
        await AssertLimits($"127.0.0.1:{redis.Port},ssl=true,sslHost=localhost,connectTimeout=2000", ca);
    }

    [Fact]
    public async Task Sentinel_service_name_finds_the_master()
    {
        using var master = RedisServer.Start();
        using var sentinel = RedisServer.StartSentinel(master, "sidecars-master");
        await AssertLimits($"127.0.0.1:{sentinel.Port},serviceName=sidecars-master,connectTimeout=2000");
        Assert.True(master.CommandCount("evalsha") + master.CommandCount("eval") >= 3, "decisions should run on the master found through Sentinel");
    }
}
