using BenchmarkDotNet.Running;
using Sidecars.Benchmarks;
using Sidecars.Benchmarks.Redis;

// Redis benchmarks share one redis-server, started here so every benchmark process of the run uses it.
using var redis = args.Any(a => a.Contains("Redis", StringComparison.OrdinalIgnoreCase)) ? BenchRedis.Start() : null;
try
{
    BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(args, new BenchConfig());
}
finally
{
    redis?.Kill();
}
