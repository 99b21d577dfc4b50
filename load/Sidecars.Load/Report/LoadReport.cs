using Sidecars.Load.Model;

namespace Sidecars.Load.Report;

/// <summary>
/// Everything one compare run found, written to report.json and rendered into report.html. Every figure of the
/// sidecar sits beside the floor's figure from the same run, and their ratio (sidecars / floor), because on a
/// shared machine only ratios measured side by side mean anything.
/// </summary>
public sealed class LoadReport
{
    public required string Generated { get; init; }          // ISO 8601, UTC
    public required string Profile { get; init; }            // "quick" | "full" | "ci"
    public required MachineInfo Machine { get; init; }
    public required BuildInfo Build { get; init; }
    public string CpuPlacement { get; init; } = "unpinned";
    public GeneratorCap? GeneratorCap { get; set; }
    public List<ScenarioReport> Scenarios { get; init; } = [];
    public List<StartupReport> Startup { get; init; } = [];
    public List<MemoryReport> Memory { get; init; } = [];
    public List<Verdict> Verdicts { get; init; } = [];
    public List<RunResult> Runs { get; init; } = [];
    public SoakReport? Soak { get; set; }
    public List<string> Notes { get; init; } = [];
}

public sealed record MachineInfo(int Cores, long MemoryBytes, string Kernel, string CpuModel, string OperatingSystem);

public sealed record BuildInfo(string GitCommit, string DotnetVersion, string SidecarsBuild, string SidecarsGc, string FloorGc, string SidecarsBinary, string FloorBinary);

/// <summary>The open-loop rate our generator holds without falling behind its own schedule, measured against the floor.</summary>
public sealed record GeneratorCap(double CallsPerSecond, List<CapStep> Steps, string How);

public sealed record CapStep(double Rate, double SlipP99Milliseconds, long LateCalls, bool FellBehind);

/// <summary>One scenario: max throughput (h2load, closed loop) and the open-loop run at one rate for both targets.</summary>
public sealed class ScenarioReport
{
    public required string Scenario { get; init; }
    public Throughput? MaxThroughput { get; set; }
    public double OfferedRate { get; set; }
    public Figures? Sidecars { get; set; }
    public Figures? Floor { get; set; }
    public Ratios? Ratios { get; set; }

    /// <summary>Each open-loop round's p99 and p99.9 of both targets; the figures above are each target's median round.</summary>
    public List<OpenRound> OpenRounds { get; set; } = [];
}

public sealed record OpenRound(double SidecarsP99, double FloorP99, double SidecarsP999, double FloorP999, bool FellBehind);

/// <summary>
/// h2load's req/s for each target (the median of its rounds), the ratio (the median of the rounds' own ratios, each
/// round a floor run and a sidecars run back to back), and whether the servers' own counters and the response sizes
/// agree with every run.
/// </summary>
public sealed record Throughput(double SidecarsRps, double FloorRps, double Ratio, H2LoadCheck SidecarsCheck, H2LoadCheck FloorCheck, List<ThroughputRound> Rounds);

/// <summary>One round: which target ran first (the order alternates), both req/s and their ratio.</summary>
public sealed record ThroughputRound(string First, double SidecarsRps, double FloorRps, double Ratio);

/// <summary>
/// h2load counts a gRPC error as a success (it is HTTP 200 with a grpc-status trailer), so each of its runs is checked
/// against the server's /readyz call counters and against the size of the response frame the scenario expects.
/// </summary>
public sealed record H2LoadCheck(bool Agrees, long H2LoadSucceeded, long ServerCalls, long ServerExpectedOutcome, double BytesPerResponse, int ExpectedResponseBytes, string Detail);

public sealed record Figures(
    double OfferedRate,
    double AchievedRate,
    long Sent,
    long Answered,
    long Errors,
    long Unexpected,
    long Unanswered,
    double P50,
    double P90,
    double P99,
    double P999,
    double Max,
    bool GeneratorFellBehind);

/// <summary>Sidecars / floor; null where the floor's figure is zero.</summary>
public sealed record Ratios(double? AchievedRate, double? P50, double? P90, double? P99, double? P999, double? Max);

/// <summary>Spawn to the first allowed Check, in milliseconds, every sample and their median.</summary>
public sealed record StartupReport(string Target, List<double> SamplesMilliseconds, double MedianMilliseconds);

public sealed record MemoryReport(string Target, long IdleRssBytes, long AfterLoadRssBytes, double LoadSeconds, string Load);

/// <summary>One budget's outcome: "pass", "fail" or "not-judged" (with why).</summary>
public sealed record Verdict(string Budget, string Scenario, string Result, double? Measured, double? Limit, string Detail);

/// <summary>The soak: one scenario at a fixed rate, sampled every few seconds, and the RSS trend.</summary>
public sealed record SoakReport(string Scenario, string Target, double Rate, double Minutes, List<SoakSample> Samples, double RssSlopeBytesPerMinute, string Trend);

public sealed record SoakSample(double AtSeconds, long RssBytes, long HeapBytes, long Gen0, long Gen1, long Gen2, double GcPauseMilliseconds, double P99Milliseconds, long Answered);
