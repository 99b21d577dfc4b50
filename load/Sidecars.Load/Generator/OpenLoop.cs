using System.Diagnostics;
using HdrHistogram;
using Sidecars.Load.Model;

namespace Sidecars.Load.Generator;

/// <summary>
/// Calls on a fixed schedule: call i is due at t0 + i / rate, whatever the server did with the ones before, and its
/// latency counts from that due time, so a stall shows in every call it delays (no coordinated omission). One
/// dedicated high-priority thread keeps the schedule: it sleeps with nanosleep (precise to tens of microseconds, and
/// it never spins, which would take a core from the server on a small machine) and starts each call without waiting for it. How late it started each call is its own histogram.
/// </summary>
internal static class OpenLoop
{
    /// <summary>Slip above this p99 means the generator, not the server, set the pace.</summary>
    public const double MaxSlipP99Milliseconds = 1;

    /// <summary>A call started more than this late is a late call; more than 1% late calls also means fell behind.</summary>
    public const double LateMilliseconds = 10;


    public static async Task<RunResult> RunAsync(RunSpec spec, CallRunner calls, Dictionary<string, string> notes, CancellationToken ct)
    {
        var recorder = calls.Recorder;
        var total = (long)Math.Ceiling(spec.Rate * (spec.Warmup + spec.Duration).TotalSeconds);
        var ticksPerCall = Stopwatch.Frequency / spec.Rate;
        var slip = new LongHistogram(RunRecorder.HighestMicros, 3);
        var lateTicks = (long)(LateMilliseconds * Stopwatch.Frequency / 1000);
        long late = 0;

        // A little ahead, so the thread is running before the first call is due.
        var t0 = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 20;
        recorder.MeasureFrom = t0 + (long)(spec.Warmup.TotalSeconds * Stopwatch.Frequency);
        var measureEnd = recorder.MeasureFrom + (long)(spec.Duration.TotalSeconds * Stopwatch.Frequency);

        var scheduler = new Thread(() =>
        {
            for (long i = 0; i < total && !ct.IsCancellationRequested; i++)
            {
                var due = t0 + (long)(i * ticksPerCall);
                WaitUntil(due);
                var now = Stopwatch.GetTimestamp();
                if (due >= recorder.MeasureFrom)
                {
                    slip.RecordValue(Math.Clamp((now - due) * 1_000_000 / Stopwatch.Frequency, 0, RunRecorder.HighestMicros));
                    if (now - due > lateTicks)
                    {
                        late++;
                    }
                }

                if (recorder.InFlight >= LoadRunner.MaxInFlight)
                {
                    recorder.Dropped(due);
                    continue;
                }

                _ = calls.CallAsync(i, due);
            }
        })
        {
            IsBackground = true,
            Priority = ThreadPriority.Highest,
            Name = "open-loop schedule",
        };
        scheduler.Start();

        await Timeline.SampleAsync(recorder, recorder.MeasureFrom, measureEnd, ct).ConfigureAwait(false);
        await Task.Run(scheduler.Join, CancellationToken.None).ConfigureAwait(false);
        await DrainAsync(recorder, ct).ConfigureAwait(false);
        recorder.Seal();

        var measured = slip.TotalCount;
        var slipP99 = measured == 0 ? 0 : RunRecorder.Ms(slip.GetValueAtPercentile(99));
        var fellBehind = slipP99 > MaxSlipP99Milliseconds || late > measured / 100;
        if (fellBehind)
        {
            notes["fell_behind"] = $"the generator kept its schedule badly: slip p99 {slipP99:0.###} ms, {late} of {measured} calls started > {LateMilliseconds} ms late";
        }

        var result = new ScheduleSlip(slipP99, measured == 0 ? 0 : RunRecorder.Ms(slip.GetMaxValue()), late, LateMilliseconds, fellBehind);
        return recorder.Result(spec, "open", spec.Duration.TotalSeconds, result, notes);
    }

    /// <summary>Calls still in flight get <see cref="LoadRunner.Drain"/>; then they count as unanswered.</summary>
    internal static async Task DrainAsync(RunRecorder recorder, CancellationToken ct)
    {
        var until = Stopwatch.GetTimestamp() + (long)(LoadRunner.Drain.TotalSeconds * Stopwatch.Frequency);
        while (recorder.InFlight > 0 && Stopwatch.GetTimestamp() < until && !ct.IsCancellationRequested)
        {
            await Task.Delay(10, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static void WaitUntil(long due)
    {
        while (true)
        {
            var left = due - Stopwatch.GetTimestamp();
            if (left <= WakeEarlyTicks)
            {
                // Within the timer's precision: start now. The few microseconds early are not counted as slip,
                // and latency still counts from the due time.
                return;
            }

            // Sleep, never spin: on a 2-core machine a spinning generator takes a core from the server it
            // measures (seen: 1.4 cores for 2,000 calls/s). nanosleep wakes within ~60 µs on Linux.
            Sleep(Math.Min(left - WakeEarlyTicks, Stopwatch.Frequency / 1000));
        }
    }

    private static readonly long WakeEarlyTicks = Stopwatch.Frequency / 50_000; // 20 µs

    private static void Sleep(long ticks)
    {
        var nanoseconds = ticks * 1_000_000_000 / Stopwatch.Frequency;
        var request = new TimeSpec { Seconds = 0, Nanoseconds = nanoseconds };
        _ = NativeSleep.nanosleep(ref request, IntPtr.Zero);
    }

    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private static class NativeSleep
    {
        [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
        [System.Runtime.InteropServices.DefaultDllImportSearchPaths(System.Runtime.InteropServices.DllImportSearchPath.SafeDirectories)]
        public static extern int nanosleep(ref TimeSpec request, IntPtr remaining);
    }
}

/// <summary>One timeline sample per second of the measured window.</summary>
internal static class Timeline
{
    public static async Task SampleAsync(RunRecorder recorder, long from, long until, CancellationToken ct)
    {
        var second = 0;
        while (!ct.IsCancellationRequested)
        {
            var next = from + (second + 1) * Stopwatch.Frequency;
            if (next > until)
            {
                break;
            }

            var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, CancellationToken.None).ConfigureAwait(false);
            }

            recorder.Sample(second + 1);
            second++;
        }

        var rest = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), until);
        if (rest > TimeSpan.Zero && !ct.IsCancellationRequested)
        {
            await Task.Delay(rest, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
