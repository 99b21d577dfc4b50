using System.Diagnostics;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.Server;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Redis;

/// <summary>A real 3-master Redis Cluster on loopback, built with redis-cli --cluster create.</summary>
public sealed class RedisClusterFixture : IDisposable
{
    public RedisClusterFixture()
    {
        Nodes = [RedisServer.StartClusterNode(), RedisServer.StartClusterNode(), RedisServer.StartClusterNode()];
        using var create = Process.Start(new ProcessStartInfo(
            "redis-cli",
            ["--cluster", "create", .. Nodes.Select(n => n.Endpoint), "--cluster-replicas", "0", "--cluster-yes"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = create.StandardOutput.ReadToEnd() + create.StandardError.ReadToEnd();
        create.WaitForExit(30_000);
        if (create.ExitCode != 0)
        {
            throw new InvalidOperationException("redis-cli --cluster create failed: " + output);
        }

        var clock = Stopwatch.StartNew();
        while (!Nodes.All(n => n.Cli("CLUSTER", "INFO").Contains("cluster_state:ok", StringComparison.Ordinal)))
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(30))
            {
                throw new InvalidOperationException("the cluster did not reach cluster_state:ok");
            }

            Task.Delay(100).GetAwaiter().GetResult();
        }
    }

    internal RedisServer[] Nodes { get; }

    internal string Configuration => string.Join(',', Nodes.Select(n => n.Endpoint)) + ",connectTimeout=10000,asyncTimeout=10000";

    public void Dispose()
    {
        foreach (var node in Nodes)
        {
            node.Dispose();
        }
    }
}

public sealed class RedisClusterTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    private const string Config = """
        domain: spread
        descriptors:
          - key: roomy
            rate_limit: { unit: hour, requests_per_unit: 100 }
          - key: tight
            rate_limit: { unit: hour, requests_per_unit: 1 }
          - key: user
            rate_limit: { unit: hour, requests_per_unit: 5 }
        """;

    private Task<SidecarServer> Start(TempConfigDirectory directory) =>
        SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?>
        {
            ["Sidecars:Redis:Configuration"] = cluster.Configuration,
            ["Sidecars:Redis:OperationTimeout"] = "00:00:10",
            ["Sidecars:Redis:OverLimitCacheSize"] = "0",
        });

    private long KeysOn(RedisServer node, string pattern) =>
        node.Cli("--scan", "--pattern", pattern).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;

    [Fact]
    public async Task Limits_hold_for_buckets_spread_over_the_cluster()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("spread.yaml", Config);
        await using var server = await Start(directory);
        var client = server.RateLimitClient();
        var run = Guid.NewGuid().ToString("N");
        var request = RateLimitServiceTests.Request("spread", [.. Enumerable.Range(0, 12).Select(i => new[] { ("user", run + i) })]);

        for (var remaining = 4u; remaining < 5; remaining--)
        {
            var response = await client.ShouldRateLimitAsync(request);
            Assert.Equal(Code.Ok, response.OverallCode);
            Assert.All(response.Statuses, s => Assert.Equal(remaining, s.LimitRemaining));
        }

        Assert.Equal(Code.OverLimit, (await client.ShouldRateLimitAsync(request)).OverallCode);
        Assert.True(cluster.Nodes.Count(n => KeysOn(n, $"*user={run}*") > 0) >= 2, "twelve buckets should land on more than one master");
    }

    [Fact]
    public async Task Hash_tag_domain_keeps_a_request_strictly_all_or_nothing()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("spread.yaml", Config.Replace("domain: spread", "domain: spread\nhash_tag: domain", StringComparison.Ordinal));
        await using var server = await Start(directory);
        var client = server.RateLimitClient();
        var run = Guid.NewGuid().ToString("N");
        var request = RateLimitServiceTests.Request("spread", [("roomy", run)], [("tight", run)]);

        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(request)).OverallCode);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(Code.OverLimit, (await client.ShouldRateLimitAsync(request)).OverallCode);
        }

        // The denied requests charged nothing: the roomy bucket holds only the first hit.
        var roomy = await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("spread", [("roomy", run)]));
        Assert.Equal(98u, roomy.Statuses[0].LimitRemaining);
        Assert.Equal(1, cluster.Nodes.Count(n => KeysOn(n, $"*={run}*") > 0));
    }
}
