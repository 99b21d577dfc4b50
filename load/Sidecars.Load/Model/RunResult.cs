namespace Sidecars.Load.Model;

/// <summary>What one run measured. Latencies are in milliseconds, read from an HdrHistogram recorded in microseconds.</summary>
public sealed class RunResult
{
    public required string Scenario { get; init; }
    public required string Target { get; init; }
    public required string Mode { get; init; }          // "open" | "closed" | "h2load"
    public double OfferedRate { get; init; }              // open loop: the schedule's calls/s; closed: 0
    public double AchievedRate { get; init; }             // answered calls per second over the measured window
    public double DurationSeconds { get; init; }          // the measured window (warm-up excluded)
    public long Sent { get; init; }
    public long Answered { get; init; }                   // a response came back (any decision)
    public long Expected { get; init; }                   // the answer had the decision the scenario expects
    public long Unexpected { get; init; }                 // answered, but not the expected decision
    public long Errors { get; init; }                     // gRPC errors (a status other than OK), transport failures
    public long Unanswered { get; init; }                 // still in flight when the run ended (counted as at the run's end)
    public required LatencySummary Latency { get; init; }
    public List<PercentilePoint> Curve { get; init; } = [];   // the HDR percentile curve, for the report
    public List<SecondSample> Timeline { get; init; } = [];   // one sample per second of the measured window
    public ScheduleSlip? Slip { get; init; }              // open loop only: how well the generator kept its own schedule
    public double GeneratorCpus { get; set; }             // the generator's CPU time over the run's wall time (1.0 = one CPU busy), warm-up included
    public Dictionary<string, long> Outcomes { get; init; } = [];   // e.g. "allow", "deny_401", "deny_403", "ok", "over_limit", "error:Unavailable"
    public ServerSample? ServerBefore { get; set; }       // the server's own counters and memory, filled by the orchestrator
    public ServerSample? ServerAfter { get; set; }
    public Dictionary<string, string> Notes { get; init; } = [];    // free text: h2load cross-check, warnings
}

public sealed record LatencySummary(double P50, double P90, double P99, double P999, double Max, double Mean);

public sealed record PercentilePoint(double Percentile, double Milliseconds);

/// <summary>One second of a run: calls answered in it and their latency.</summary>
public sealed record SecondSample(double Second, long Answered, long Errors, double P50, double P99, double Max);

/// <summary>
/// The generator's own lateness: how far behind schedule each call actually started. A run whose generator
/// fell behind measures the generator, not the server, and says so.
/// </summary>
public sealed record ScheduleSlip(double P99Milliseconds, double MaxMilliseconds, long LateCalls, double LateThresholdMilliseconds, bool FellBehind);

/// <summary>A server's own view at one moment: /readyz "calls" and "runtime", and the process's RSS from /proc.</summary>
public sealed record ServerSample(
    double AtSeconds,
    long RssBytes,
    Dictionary<string, long> Calls,
    long Gen0,
    long Gen1,
    long Gen2,
    double GcPauseMilliseconds,
    long HeapBytes);
