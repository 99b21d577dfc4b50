using System.Diagnostics;
using System.Globalization;
using System.Text;
using BenchmarkDotNet.Attributes;
using HdrHistogram;
using RedisRateLimiting;
using Sidecars.Config;
using Sidecars.RateLimiting;
using Sidecars.Redis;
using StackExchange.Redis;

namespace Sidecars.Benchmarks.Redis;

/// <summary>
/// Redis-backed decisions at 64 concurrent callers, all against the same redis-server in the same run:
/// - baseline: redis-benchmark running our script's EVALSHA with 64 clients (the server's own ceiling);
/// - Sidecars' Redis store behind the engine, 1-descriptor requests;
/// - RedisRateLimiting's RedisTokenBucketRateLimiter, the token bucket a .NET user would otherwise pick.
/// One invocation is <see cref="Operations"/> decisions, so Mean is per decision and Ratio compares throughput.
/// Each caller's latencies go to an HdrHistogram whose percentiles are printed at the end of the benchmark.
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 2, iterationCount: 10, invocationCount: 1)]
public class RedisStoreBenchmarks
{
    private const int Callers = 64;
    private const int Operations = 64_000;
    private const int PerCaller = Operations / Callers;

    private RedisBucketStore _store = null!;
    private RateLimitEngine _engine = null!;
    private ConnectionMultiplexer _peerConnection = null!;
    private RedisTokenBucketRateLimiter<string> _peer = null!;
    private LongHistogram _latencies = null!;
    private string _evalShaArgs = null!;

    [GlobalSetup]
    public void Setup()
    {
        var state = new ConfigState();
        state.Publish(ConfigLoader.Compile(
            [new ConfigSource("bench.yaml", "domain: bench\ndescriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 4000000000 }\n")],
            new ConfigDiagnostics())!);
        _store = RedisBucketStore.ConnectAsync(new RedisStoreOptions
            {
                Configuration = BenchRedis.Configuration,
                OperationTimeout = TimeSpan.FromSeconds(5),
                MaxScriptsInFlight = int.Parse(Environment.GetEnvironmentVariable("SIDECARS_BENCH_SCRIPTS_IN_FLIGHT") ?? "4", CultureInfo.InvariantCulture),
            }, TimeProvider.System).GetAwaiter().GetResult();
        _engine = new RateLimitEngine(state, _store);

        _peerConnection = ConnectionMultiplexer.Connect(BenchRedis.Configuration);
        _peer = new RedisTokenBucketRateLimiter<string>("bench-peer", new RedisTokenBucketRateLimiterOptions
        {
            ConnectionMultiplexerFactory = () => _peerConnection,
            TokenLimit = int.MaxValue,
            TokensPerPeriod = int.MaxValue,
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(1),
        });

        // redis-benchmark gets exactly the call our store makes for a 1-descriptor request: load the script, then EVALSHA.
        var sha = Convert.ToHexStringLower(BucketScript.Sha1);
        _store.Connection.GetDatabase().ScriptEvaluate(BucketScript.Source, [new RedisKey("ratelimit:v1:{bench}warmup")], [1, 1, 0, 1_000_000, 4_000_000_000, 4_000_000_000, 1, 1]);
        _evalShaArgs = $"EVALSHA {sha} 1 ratelimit:v1:{{bench}}redis-benchmark 1 1 0 1000000 4000000000 4000000000 1 1";
        _latencies = new LongHistogram(TimeStamp.Minutes(1), 3);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var report = new StringBuilder();
        if (_latencies.TotalCount > 0)
        {
            report.Append(CultureInfo.InvariantCulture, $"// latency per decision (µs): p50={Percentile(50)} p90={Percentile(90)} p99={Percentile(99)} p99.9={Percentile(99.9)} max={_latencies.GetMaxValue() / (Stopwatch.Frequency / 1_000_000)} n={_latencies.TotalCount}");
            Console.WriteLine(report);
        }

        _peer.Dispose();
        _peerConnection.Dispose();
        _store.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    private string Percentile(double p) =>
        (_latencies.GetValueAtPercentile(p) / (double)(Stopwatch.Frequency / 1_000_000)).ToString("F0", CultureInfo.InvariantCulture);

    [Benchmark(Baseline = true, OperationsPerInvoke = Operations, Description = "redis-benchmark EVALSHA, 64 clients")]
    public void RedisBenchmark()
    {
        var args = $"-h 127.0.0.1 -p {BenchRedis.Port} -c {Callers} -n {Operations} --csv {_evalShaArgs}";
        using var process = Process.Start(new ProcessStartInfo("redis-benchmark", args) { RedirectStandardOutput = true })!;
        var csv = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Console.WriteLine("// redis-benchmark: " + csv.Replace('\n', ' '));
    }

    [Benchmark(OperationsPerInvoke = Operations, Description = "Sidecars Redis store, 64 callers, 1 descriptor")]
    public Task SidecarsStore() => Run(async caller =>
    {
        var query = new RateLimitQuery { Domain = "bench" };
        query.BeginDescriptor();
        query.AddEntry("user", "u" + caller);
        for (var i = 0; i < PerCaller; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await _engine.DecideAsync(query);
            Record(start);
        }
    });

    [Benchmark(OperationsPerInvoke = Operations, Description = "RedisRateLimiting token bucket, 64 callers")]
    public Task RedisRateLimitingPeer() => Run(async _ =>
    {
        for (var i = 0; i < PerCaller; i++)
        {
            var start = Stopwatch.GetTimestamp();
            using var lease = await _peer.AcquireAsync(1);
            Record(start);
        }
    });

    private Task Run(Func<int, Task> caller) => Task.WhenAll(Enumerable.Range(0, Callers).Select(i => Task.Run(() => caller(i))));

    private void Record(long start)
    {
        var elapsed = Stopwatch.GetTimestamp() - start;
        lock (_latencies)
        {
            _latencies.RecordValue(elapsed);
        }
    }
}
