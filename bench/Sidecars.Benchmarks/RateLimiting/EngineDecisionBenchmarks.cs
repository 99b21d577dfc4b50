using System.Threading.RateLimiting;
using BenchmarkDotNet.Attributes;
using Sidecars.Config;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;

namespace Sidecars.Benchmarks.RateLimiting;

/// <summary>
/// One decision of the core engine on a warm snapshot with the in-memory store: match a 3-entry descriptor,
/// build its bucket key, run GCRA. Budget: under 1 µs and 0 bytes allocated.
/// Baseline: the BCL's TokenBucketRateLimiter acquiring from one pre-built bucket, with no matching and no key.
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class EngineDecisionBenchmarks
{
    private const string Config = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: { unit: second, requests_per_unit: 4000000000 }
          - key: tenant
            value: acme
            descriptors:
              - key: path
                value: /api/*
                descriptors:
                  - key: method
                    rate_limit: { unit: second, requests_per_unit: 4000000000 }
              - key: path
                rate_limit: { unit: second, requests_per_unit: 100 }
        """;

    private RateLimitEngine _engine = null!;
    private InMemoryBucketStore _store = null!;
    private RateLimitQuery _threeEntries = null!;
    private RateLimitQuery _overLimit = null!;
    private TokenBucketRateLimiter _bclBucket = null!;
    private PartitionedRateLimiter<string> _bclPartitioned = null!;

    [GlobalSetup]
    public void Setup()
    {
        var state = new ConfigState();
        state.Publish(ConfigLoader.Compile([new ConfigSource("bench.yaml", Config)], new ConfigDiagnostics())!);
        _store = new InMemoryBucketStore(TimeProvider.System);
        _engine = new RateLimitEngine(state, _store);

        _threeEntries = new RateLimitQuery { Domain = "edge" };
        _threeEntries.BeginDescriptor();
        _threeEntries.AddEntry("tenant", "acme");
        _threeEntries.AddEntry("path", "/api/orders");
        _threeEntries.AddEntry("method", "GET");

        _overLimit = new RateLimitQuery { Domain = "edge" };
        _overLimit.BeginDescriptor();
        _overLimit.AddEntry("tenant", "acme");
        _overLimit.AddEntry("path", "/admin");
        for (var i = 0; i < 200; i++)
        {
            _engine.DecideAsync(_overLimit).AsTask().GetAwaiter().GetResult();
        }

        var options = new TokenBucketRateLimiterOptions
        {
            TokenLimit = int.MaxValue,
            TokensPerPeriod = int.MaxValue,
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(1),
            AutoReplenishment = false,
            QueueLimit = 0,
        };
        _bclBucket = new TokenBucketRateLimiter(options);
        _bclPartitioned = PartitionedRateLimiter.Create<string, string>(key => RateLimitPartition.GetTokenBucketLimiter(key, _ => options));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _bclBucket.Dispose();
        _bclPartitioned.Dispose();
    }

    [Benchmark(Baseline = true, Description = "BCL TokenBucketRateLimiter, one bucket")]
    public bool BclSingleBucket()
    {
        using var lease = _bclBucket.AttemptAcquire();
        return lease.IsAcquired;
    }

    [Benchmark(Description = "BCL PartitionedRateLimiter, 3-part string key")]
    public bool BclPartitioned()
    {
        using var lease = _bclPartitioned.AttemptAcquire(string.Concat("edge|tenant=acme|path=/api/orders|method=", "GET"));
        return lease.IsAcquired;
    }

    [Benchmark(Description = "Sidecars engine, 3-entry descriptor, allowed")]
    public RateLimitCode ThreeEntryDecision() => _engine.DecideAsync(_threeEntries).Result;

    [Benchmark(Description = "Sidecars engine, 2-entry descriptor, over limit")]
    public RateLimitCode OverLimitDecision() => _engine.DecideAsync(_overLimit).Result;
}
