using System.Diagnostics;
using Sidecars.Load.Model;

namespace Sidecars.Load.Generator;

/// <summary>
/// A fixed number of calls in flight, each started again as soon as it is answered: the server sets the pace, so
/// this finds its maximum throughput (latency here is service time under that load, not what an open loop measures).
/// </summary>
internal static class ClosedLoop
{
    public static async Task<RunResult> RunAsync(RunSpec spec, CallRunner calls, Dictionary<string, string> notes, CancellationToken ct)
    {
        var recorder = calls.Recorder;
        var start = Stopwatch.GetTimestamp();
        recorder.MeasureFrom = start + (long)(spec.Warmup.TotalSeconds * Stopwatch.Frequency);
        var end = recorder.MeasureFrom + (long)(spec.Duration.TotalSeconds * Stopwatch.Frequency);
        long next = -1;

        var workers = new Task[spec.Concurrency];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(
                async () =>
                {
                    while (!ct.IsCancellationRequested)
                    {
                        var now = Stopwatch.GetTimestamp();
                        if (now >= end)
                        {
                            return;
                        }

                        await calls.CallAsync(Interlocked.Increment(ref next), now).ConfigureAwait(false);
                    }
                },
                CancellationToken.None);
        }

        await Timeline.SampleAsync(recorder, recorder.MeasureFrom, end, ct).ConfigureAwait(false);

        // Calls started before the end are still counted if answered within the drain time.
        var drained = Task.WhenAll(workers);
        await Task.WhenAny(drained, Task.Delay(LoadRunner.Drain, CancellationToken.None)).ConfigureAwait(false);
        recorder.Seal();
        return recorder.Result(spec, "closed", spec.Duration.TotalSeconds, null, notes);
    }
}
