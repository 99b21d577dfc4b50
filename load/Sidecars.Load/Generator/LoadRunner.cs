using System.Diagnostics;
using Grpc.Core;
using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Generator;

/// <summary>Runs one <see cref="RunSpec"/>: the in-process entry point of <c>sidecars-load run</c> and of <c>compare</c>.</summary>
public static class LoadRunner
{
    /// <summary>Open loop: calls beyond this many in flight are not started and count as unanswered.</summary>
    public const int MaxInFlight = 10_000;

    /// <summary>How long calls still in flight at the end get before they count as unanswered.</summary>
    public static readonly TimeSpan Drain = TimeSpan.FromSeconds(2);

    /// <exception cref="ArgumentException">An unknown scenario or a rate, duration or count out of range.</exception>
    public static async Task<RunResult> RunAsync(RunSpec spec, PreparedConfig config, CancellationToken ct)
    {
        Validate(spec);
        var scenario = ScenarioCatalog.Create(spec.Scenario, config);
        var connections = new Connection[spec.Connections];
        for (var i = 0; i < connections.Length; i++)
        {
            connections[i] = Connection.Open(spec.Endpoint, spec.Client);
        }

        try
        {
            var notes = new Dictionary<string, string>();
            if (spec.Client == ClientKind.Grpc)
            {
                // Not the default transport: its CPU per call sets a lower rate the generator can keep.
                notes["client"] = "grpc (Grpc.Net.Client)";
            }

            await OpenConnectionsAsync(scenario, connections, notes, ct).ConfigureAwait(false);
            var floor = spec.Target.StartsWith("floor", StringComparison.OrdinalIgnoreCase);
            var calls = new CallRunner(scenario, connections, new RunRecorder(), floor);
            RunResult result;
            using (var gc = GeneratorGc.Quiet())
            {
                var gcBefore = GC.CollectionCount(0);
                var cpuBefore = Environment.CpuUsage.TotalTime;
                var wall = System.Diagnostics.Stopwatch.StartNew();
                result = spec.Mode == LoopMode.Open
                    ? await OpenLoop.RunAsync(spec, calls, notes, ct).ConfigureAwait(false)
                    : await ClosedLoop.RunAsync(spec, calls, notes, ct).ConfigureAwait(false);
                result.GeneratorCpus = Math.Round((Environment.CpuUsage.TotalTime - cpuBefore).TotalSeconds / wall.Elapsed.TotalSeconds, 3);
                var collections = GC.CollectionCount(0) - gcBefore;
                if (gc.Refused is { } why)
                {
                    result.Notes["generator_gc"] = $"{why}; the generator collected {collections} times during the run";
                }
                else if (collections > 0)
                {
                    result.Notes["generator_gc"] = $"the generator's no-GC region ran out: it collected {collections} times during the run";
                }
            }
            if (spec.Scenario == "check-cold" && calls.Started > PreparedConfig.ColdTokens)
            {
                notes["cold_pool"] = $"{calls.Started} calls went round the {PreparedConfig.ColdTokens}-token pool: after the first pass a token may be in the server's cache";
            }

            return result;
        }
        finally
        {
            foreach (var connection in connections)
            {
                connection.Dispose();
            }
        }
    }

    private static void Validate(RunSpec spec)
    {
        if (spec.Mode == LoopMode.Open && spec.Rate is not (> 0 and <= 1_000_000))
        {
            throw new ArgumentException($"rate {spec.Rate} must be between 1 and 1,000,000 calls/s");
        }

        if (spec.Duration <= TimeSpan.Zero || spec.Warmup < TimeSpan.Zero)
        {
            throw new ArgumentException("duration must be positive and warm-up not negative");
        }

        if (spec.Connections is < 1 or > 1024 || spec.Concurrency is < 1 or > 100_000)
        {
            throw new ArgumentException("connections must be 1..1024 and concurrency 1..100,000");
        }
    }

    /// <summary>One unmeasured call per connection, so every HTTP/2 connection is up before the clock starts.</summary>
    private static async Task OpenConnectionsAsync(Scenario scenario, Connection[] connections, Dictionary<string, string> notes, CancellationToken ct)
    {
        var tasks = connections.Select(c => scenario.CallAsync(c, 0).WaitAsync(TimeSpan.FromSeconds(10), ct)).ToArray();
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RpcException or TimeoutException or HttpRequestException)
        {
            // The run goes on and counts the errors; the note says what the first call met.
            notes["connect"] = e.Message;
        }
    }
}

/// <summary>Starts one call and records its answer against the time it was due.</summary>
internal sealed class CallRunner(Scenario scenario, Connection[] connections, RunRecorder recorder, bool floor)
{
    private long _started;

    public RunRecorder Recorder => recorder;

    /// <summary>Calls started, warm-up included.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Call <paramref name="index"/>, due at <paramref name="scheduled"/> (Stopwatch ticks); never throws.</summary>
    public async Task CallAsync(long index, long scheduled)
    {
        recorder.Started(scheduled);
        Interlocked.Increment(ref _started);
        try
        {
            var outcome = await scenario.CallAsync(connections[index % connections.Length], index).ConfigureAwait(false);
            var expected = floor ? scenario.ExpectedFromFloor(index) : scenario.Expected(index);
            recorder.Answered(scheduled, Stopwatch.GetTimestamp(), outcome, outcome == expected);
        }
        catch (RpcException e)
        {
            recorder.Failed(scheduled, e.StatusCode);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or OperationCanceledException or InvalidOperationException)
        {
            recorder.Failed(scheduled, (StatusCode)(-1));
        }
    }
}
