using System.Diagnostics;
using System.Text.Json;
using Envoy.Service.Ratelimit.V3;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.Server;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Redis;

/// <summary>The real server with <c>--redis</c> against a real redis-server.</summary>
public sealed class RedisSidecarTests
{
    private const string Config = """
        domain: shared
        descriptors:
          - key: user
            rate_limit: { unit: hour, requests_per_unit: 50 }
          - key: k
            rate_limit: { unit: hour, requests_per_unit: 1000 }
          - key: free
            rate_limit: { unlimited: true }
          - key: tight
            rate_limit: { unit: hour, requests_per_unit: 1 }
        """;

    private const string DenyDomain = """
        domain: strict
        on_backend_error: deny
        descriptors:
          - key: user
            rate_limit: { unit: hour, requests_per_unit: 1000 }
        """;

    private const string LocalDomain = """
        domain: local
        on_backend_error: local
        descriptors:
          - key: user
            rate_limit: { unit: hour, requests_per_unit: 10 }
        """;

    private static Task<SidecarServer> Start(TempConfigDirectory directory, RedisServer redis, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Sidecars:Redis:Configuration"] = redis.Configuration,
            ["Sidecars:Headers:Backend"] = "true",
            ["Sidecars:Redis:FallbackReplicas"] = "2",

            // Generous: tests run in parallel on a small machine; the Redis-down test sets its own.
            ["Sidecars:Redis:OperationTimeout"] = "00:00:01",
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return SidecarServer.StartAsync(directory.Path, settings: settings);
    }

    private static TempConfigDirectory ConfigDirectory()
    {
        var directory = new TempConfigDirectory();
        directory.Write("shared.yaml", Config);
        directory.Write("strict.yaml", DenyDomain);
        directory.Write("local.yaml", LocalDomain);
        return directory;
    }

    [Fact]
    public async Task Two_sidecars_sharing_one_redis_enforce_one_global_limit()
    {
        using var redis = RedisServer.Start();
        using var directory = ConfigDirectory();
        await using var first = await Start(directory, redis);
        await using var second = await Start(directory, redis);
        var clients = new[] { first.RateLimitClient(), second.RateLimitClient() };
        var request = RateLimitServiceTests.Request("shared", [("user", "global")]);

        var calls = Enumerable.Range(0, 200).Select(i => clients[i % 2].ShouldRateLimitAsync(request).ResponseAsync);
        var responses = await Task.WhenAll(calls);

        Assert.Equal(50, responses.Count(r => r.OverallCode == Code.Ok));
        Assert.Equal(150, responses.Count(r => r.OverallCode == Code.OverLimit));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(8)]
    public async Task One_evalsha_per_decision_whatever_the_number_of_descriptors(int descriptors)
    {
        using var redis = RedisServer.Start();
        using var directory = ConfigDirectory();
        await using var server = await Start(directory, redis);
        var client = server.RateLimitClient();
        var request = RateLimitServiceTests.Request("shared", [.. Enumerable.Range(0, descriptors).Select(i => new[] { ("k", "v" + i) })]);
        await client.ShouldRateLimitAsync(request);

        var before = redis.CommandCount("evalsha");
        for (var i = 0; i < 5; i++)
        {
            var response = await client.ShouldRateLimitAsync(request);
            Assert.Equal(Code.Ok, response.OverallCode);
            Assert.Equal(descriptors, response.Statuses.Count(s => s.CurrentLimit is not null));
        }

        Assert.Equal(5, redis.CommandCount("evalsha") - before);
    }

    [Fact]
    public async Task Unlimited_unmatched_and_cached_over_limit_decisions_make_no_redis_call()
    {
        using var redis = RedisServer.Start();
        using var directory = ConfigDirectory();
        await using var server = await Start(directory, redis);
        var client = server.RateLimitClient();
        var tight = RateLimitServiceTests.Request("shared", [("tight", "t")]);
        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(tight)).OverallCode);
        Assert.Equal(Code.OverLimit, (await client.ShouldRateLimitAsync(tight)).OverallCode);

        var before = redis.CommandCount("evalsha") + redis.CommandCount("eval");
        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("free", "x")]))).OverallCode);
        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("nomatch", "x")]))).OverallCode);
        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("unknown-domain", [("user", "x")]))).OverallCode);
        for (var i = 0; i < 5; i++)
        {
            var cached = await client.ShouldRateLimitAsync(tight);
            Assert.Equal(Code.OverLimit, cached.OverallCode);
            Assert.True(cached.Statuses[0].DurationUntilReset.Seconds > 0);
        }

        Assert.Equal(before, redis.CommandCount("evalsha") + redis.CommandCount("eval"));
        var store = JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement.GetProperty("store");
        Assert.Equal(5, store.GetProperty("counters").GetProperty("over_limit_cache_hits").GetInt64());
    }

    [Fact]
    public async Task Redis_down_applies_each_domains_policy_fast_then_limits_again_after_restart()
    {
        using var redis = RedisServer.Start();
        using var directory = ConfigDirectory();
        await using var server = await Start(directory, redis, new Dictionary<string, string?> { ["Sidecars:Redis:OperationTimeout"] = "00:00:00.25" });
        var client = server.RateLimitClient();
        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("user", "before")]))).OverallCode);

        redis.Kill();

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 20; i++)
        {
            // allow (the default): OK, and the response says the backend was unavailable.
            var allowed = await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("user", "down")]));
            Assert.Equal(Code.Ok, allowed.OverallCode);
            Assert.Contains(allowed.ResponseHeadersToAdd, h => h.Key == "x-ratelimit-backend" && h.Value == "unavailable");

            // deny: fail closed.
            Assert.Equal(Code.OverLimit, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("strict", [("user", "down")]))).OverallCode);
        }

        // Nothing waited on the dead Redis: after 5 failures the circuit opens for a second, and then only one probe
        // per break goes to Redis; every other decision is the failure policy's, at once. Counted, not timed, so a
        // busy machine (a late timer) moves the probe count's bound, not the verdict.
        var elapsed = clock.Elapsed;
        var counters = JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement.GetProperty("store").GetProperty("counters");
        var failures = counters.GetProperty("failures").GetInt64();
        var breaks = 1 + (long)(elapsed / TimeSpan.FromSeconds(1));
        Assert.True(failures <= 5 + breaks, $"{failures} decisions waited on the dead Redis in {elapsed} ({breaks} circuit breaks); at most 5 + one probe per break may");
        Assert.True(counters.GetProperty("failure_policy_decisions").GetInt64() >= 40, "every decision while Redis was down is the failure policy's");

        // local: this replica's share of the limit (10 per hour over 2 replicas).
        var local = RateLimitServiceTests.Request("local", [("user", "down")]);
        var localAllowed = 0;
        for (var i = 0; i < 8; i++)
        {
            localAllowed += (await client.ShouldRateLimitAsync(local)).OverallCode == Code.Ok ? 1 : 0;
        }

        Assert.Equal(5, localAllowed);
        var down = JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement;
        Assert.False(down.GetProperty("store").GetProperty("backend_available").GetBoolean());
        Assert.True(down.GetProperty("ready").GetBoolean());

        // Redis comes back empty (no script cached): the sidecar reconnects, loads the script again, and limits again.
        redis.Start();
        var tight = RateLimitServiceTests.Request("shared", [("tight", "after-restart")]);
        Assert.True(await Eventually.TrueAsync(
            async () =>
            {
                var response = await client.ShouldRateLimitAsync(tight);
                return response.OverallCode == Code.OverLimit && response.ResponseHeadersToAdd.All(h => h.Key != "x-ratelimit-backend");
            },
            TimeSpan.FromSeconds(30)));
        var up = JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement.GetProperty("store");
        Assert.True(up.GetProperty("backend_available").GetBoolean());
    }

    [Fact]
    public async Task Huge_descriptor_values_give_bounded_keys()
    {
        using var redis = RedisServer.Start();
        using var directory = ConfigDirectory();
        await using var server = await Start(directory, redis);
        var client = server.RateLimitClient();
        var huge = new string('v', 16_000);
        Assert.Equal(999u, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("k", huge)]))).Statuses[0].LimitRemaining);
        Assert.Equal(998u, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("k", huge)]))).Statuses[0].LimitRemaining);
        Assert.Equal(999u, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("shared", [("k", huge + "x")]))).Statuses[0].LimitRemaining);

        var keys = redis.Cli("--scan").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, keys.Length);
        Assert.All(keys, key =>
        {
            Assert.StartsWith("ratelimit:v1:{", key, StringComparison.Ordinal);
            Assert.True(key.Length < 100, $"key of {key.Length} characters");
        });
    }
}
