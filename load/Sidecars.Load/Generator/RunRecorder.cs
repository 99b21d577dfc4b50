using System.Diagnostics;
using System.Runtime.InteropServices;
using Grpc.Core;
using HdrHistogram;
using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Generator;

/// <summary>
/// What the calls of one run record, from many threads at once without a lock or an allocation: latency into an
/// HdrHistogram <see cref="Recorder"/> (µs), counts with one interlocked add each on fields of their own cache line.
/// Calls scheduled in the warm-up are not recorded.
/// </summary>
internal sealed class RunRecorder
{
    public const long HighestMicros = 60_000_000;

    private readonly Recorder _latency = new(1, HighestMicros, 3, (id, low, high, digits) => new LongConcurrentHistogram(id, low, high, digits));
    private readonly LongHistogram _total = new(HighestMicros, 3);
    private readonly Counters _counters = new();
    private readonly long[] _outcomes = new long[(int)Outcome.Unknown + 1];
    private readonly long[] _errors = new long[(int)StatusCode.Unauthenticated + 2];
    private readonly List<SecondSample> _timeline = [];
    private HistogramBase? _interval;
    private long _secondErrors;
    private int _sealed;

    /// <summary>Stopwatch ticks at which the measured window starts; calls scheduled before are warm-up.</summary>
    public long MeasureFrom { get; set; }

    public long InFlight => Volatile.Read(ref _counters.InFlight);

    public bool Sealed => Volatile.Read(ref _sealed) != 0;

    public void Started(long scheduled)
    {
        Interlocked.Increment(ref _counters.InFlight);
        if (scheduled >= MeasureFrom)
        {
            Interlocked.Increment(ref _counters.Sent);
        }
    }

    /// <summary>A call the generator could not start (the in-flight cap): counted as sent and unanswered.</summary>
    public void Dropped(long scheduled)
    {
        if (scheduled >= MeasureFrom)
        {
            Interlocked.Increment(ref _counters.Sent);
            Interlocked.Increment(ref _counters.Dropped);
        }
    }

    public void Answered(long scheduled, long now, Outcome outcome, bool expected)
    {
        Interlocked.Decrement(ref _counters.InFlight);
        if (scheduled < MeasureFrom || Sealed)
        {
            return;
        }

        _latency.RecordValue(Math.Clamp(Stopwatch.GetElapsedTime(scheduled, now).Ticks / 10, 1, HighestMicros));
        Interlocked.Increment(ref _counters.Answered);
        Interlocked.Increment(ref expected ? ref _counters.Expected : ref _counters.Unexpected);
        Interlocked.Increment(ref _outcomes[(int)outcome]);
    }

    /// <summary>A gRPC error, or (<paramref name="code"/> outside StatusCode) a transport failure.</summary>
    public void Failed(long scheduled, StatusCode code)
    {
        Interlocked.Decrement(ref _counters.InFlight);
        if (scheduled < MeasureFrom || Sealed)
        {
            return;
        }

        Interlocked.Increment(ref _counters.Errors);
        Interlocked.Increment(ref _secondErrors);
        Interlocked.Increment(ref _errors[(int)code is >= 0 and <= (int)StatusCode.Unauthenticated ? (int)code : _errors.Length - 1]);
    }

    /// <summary>Closes one second of the timeline (called by one thread, once a second of the measured window).</summary>
    public void Sample(double second)
    {
        _interval = _latency.GetIntervalHistogram(_interval);
        _total.Add(_interval);
        var errors = Interlocked.Exchange(ref _secondErrors, 0);
        _timeline.Add(new SecondSample(
            second,
            _interval.TotalCount,
            errors,
            Ms(_interval.TotalCount == 0 ? 0 : _interval.GetValueAtPercentile(50)),
            Ms(_interval.TotalCount == 0 ? 0 : _interval.GetValueAtPercentile(99)),
            Ms(_interval.TotalCount == 0 ? 0 : _interval.GetMaxValue())));
    }

    /// <summary>Stops counting: what is still in flight now is unanswered.</summary>
    public void Seal() => Volatile.Write(ref _sealed, 1);

    public RunResult Result(RunSpec spec, string mode, double seconds, ScheduleSlip? slip, Dictionary<string, string> notes)
    {
        // The last partial second goes into the totals, not the timeline.
        _interval = _latency.GetIntervalHistogram(_interval);
        _total.Add(_interval);
        var c = _counters;
        var outcomes = new Dictionary<string, long>();
        for (var i = 0; i < _outcomes.Length; i++)
        {
            if (_outcomes[i] > 0)
            {
                outcomes[Scenario.Label((Outcome)i)] = _outcomes[i];
            }
        }

        for (var i = 0; i < _errors.Length; i++)
        {
            if (_errors[i] > 0)
            {
                outcomes["error:" + (i < _errors.Length - 1 ? ((StatusCode)i).ToString() : "Transport")] = _errors[i];
            }
        }

        if (c.Dropped > 0)
        {
            notes["dropped"] = $"{c.Dropped} calls not started: {LoadRunner.MaxInFlight} already in flight";
        }

        var answered = Interlocked.Read(ref c.Answered);
        var errors = Interlocked.Read(ref c.Errors);
        var sent = Interlocked.Read(ref c.Sent);
        return new RunResult
        {
            Scenario = spec.Scenario,
            Target = spec.Target,
            Mode = mode,
            OfferedRate = spec.Mode == LoopMode.Open ? spec.Rate : 0,
            AchievedRate = seconds > 0 ? answered / seconds : 0,
            DurationSeconds = seconds,
            Sent = sent,
            Answered = answered,
            Expected = Interlocked.Read(ref c.Expected),
            Unexpected = Interlocked.Read(ref c.Unexpected),
            Errors = errors,
            Unanswered = Math.Max(0, sent - answered - errors),
            Latency = Summary(_total),
            Curve = Curve(_total),
            Timeline = _timeline,
            Slip = slip,
            Outcomes = outcomes,
            Notes = notes,
        };
    }

    internal static LatencySummary Summary(HistogramBase h) => h.TotalCount == 0
        ? new LatencySummary(0, 0, 0, 0, 0, 0)
        : new LatencySummary(
            Ms(h.GetValueAtPercentile(50)),
            Ms(h.GetValueAtPercentile(90)),
            Ms(h.GetValueAtPercentile(99)),
            Ms(h.GetValueAtPercentile(99.9)),
            Ms(h.GetMaxValue()),
            Math.Round(h.GetMean() / 1000.0, 4));

    /// <summary>5 points per halving of the distance to 100 %; HdrHistogram's iterator ends on 100 % twice, kept once.</summary>
    private static List<PercentilePoint> Curve(HistogramBase h)
    {
        var points = new List<PercentilePoint>();
        if (h.TotalCount == 0)
        {
            return points;
        }

        foreach (var v in h.Percentiles(5))
        {
            var point = new PercentilePoint(Math.Round(v.Percentile, 5), Ms(v.ValueIteratedTo));
            if (points.Count == 0 || points[^1] != point)
            {
                points.Add(point);
            }
        }

        return points;
    }

    internal static double Ms(long micros) => micros / 1000.0;

    /// <summary>Each counter on a cache line of its own: the calls of all threads add to them.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 8 * 128)]
    private sealed class Counters
    {
        [FieldOffset(64)] public long InFlight;
        [FieldOffset(192)] public long Sent;
        [FieldOffset(320)] public long Answered;
        [FieldOffset(448)] public long Expected;
        [FieldOffset(576)] public long Unexpected;
        [FieldOffset(704)] public long Errors;
        [FieldOffset(832)] public long Dropped;
    }
}
