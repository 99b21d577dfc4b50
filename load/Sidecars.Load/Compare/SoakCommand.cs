using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Sidecars.Load.Generator;
using Sidecars.Load.Model;
using Sidecars.Load.Report;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Compare;

/// <summary>
/// <c>sidecars-load soak [--minutes 10] [--rate 2000] [--scenario check-cached] [--sidecars PATH] [--out DIR] [--config DIR]</c> (by hand,
/// not CI): one scenario at a fixed rate against the sidecar, sampling RSS, GC counts and pause time every 10 s, and the
/// RSS trend as a least-squares slope. Writes DIR/soak.json and adds the soak to DIR/report.html.
/// </summary>
public static class SoakCommand
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(string[] args)
    {
        double minutes = 10, rate = 2000;
        string scenario = "check-cached", outDir = "artifacts/load";
        string? sidecars = null, configDir = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"soak: {args[i]} needs a value");
            try
            {
                switch (args[i])
                {
                    case "--minutes": minutes = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--rate": rate = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--scenario": scenario = Value(); break;
                    case "--sidecars": sidecars = Value(); break;
                    case "--out": outDir = Value(); break;
                    case "--config": configDir = Value(); break;
                    default: throw new ArgumentException($"soak: unknown option '{args[i]}'");
                }
            }
            catch (Exception e) when (e is ArgumentException or FormatException)
            {
                Console.Error.WriteLine(e.Message);
                return 2;
            }
        }

        sidecars ??= Environment.GetEnvironmentVariable("SIDECARS_AOT_BINARY") is { Length: > 0 } env ? env : "artifacts/aot/sidecars";
        var config = configDir is not null && File.Exists(Path.Combine(configDir, "tokens.json"))
            ? PreparedConfig.Load(configDir)
            : PreparedConfig.Prepare(configDir ?? Path.Combine(outDir, "soak-config"));
        using var placement = CpuPlacement.Apply(enabled: true);
        Console.Out.WriteLine("CPUs: " + placement.How);
        await using var server = ServerProcess.Start("sidecars", placement.Place(ServerCommand.Sidecars(Path.GetFullPath(sidecars), config.Directory, redis: null)), Path.Combine(outDir, "logs", "soak-sidecars.log"));
        await server.WaitReadyAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        List<SoakSample> samples = [Sample(await server.SampleAsync(clock.Elapsed).ConfigureAwait(false), 0, 0)];
        var chunks = (int)Math.Ceiling(minutes * 60 / Interval.TotalSeconds);
        for (var i = 0; i < chunks; i++)
        {
            // Back-to-back 10-second open-loop runs: each gives that interval's p99 and is followed by one sample.
            var spec = new RunSpec(scenario, "sidecars", server.Endpoint, LoopMode.Open, rate, Interval, i == 0 ? TimeSpan.FromSeconds(2) : TimeSpan.Zero);
            var run = await LoadRunner.RunAsync(spec, config, CancellationToken.None).ConfigureAwait(false);
            var sample = Sample(await server.SampleAsync(clock.Elapsed).ConfigureAwait(false), run.Latency.P99, run.Answered);
            samples.Add(sample);
            Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{sample.AtSeconds,6:F0}s] RSS {sample.RssBytes / 1048576.0:F1} MB, heap {sample.HeapBytes / 1048576.0:F1} MB, gen0/1/2 {sample.Gen0}/{sample.Gen1}/{sample.Gen2}, GC pause {sample.GcPauseMilliseconds:F1} ms, p99 {sample.P99Milliseconds:F3} ms"));
        }

        var slope = SlopePerMinute(samples.Skip(1).ToList());
        var mean = samples.Average(s => (double)s.RssBytes);

        // "Flat" when the fitted line moves RSS by less than 5% of its mean over the whole soak.
        var trend = Math.Abs(slope * minutes) < 0.05 * mean ? "flat" : slope > 0 ? "rising" : "falling";
        var soak = new SoakReport(scenario, "sidecars", rate, minutes, samples, Math.Round(slope), trend + string.Create(CultureInfo.InvariantCulture, $" ({slope / 1048576.0:F2} MB/min)"));
        Directory.CreateDirectory(outDir);
        await File.WriteAllTextAsync(Path.Combine(outDir, "soak.json"), JsonSerializer.Serialize(soak, ReportJsonContext.Default.SoakReport)).ConfigureAwait(false);
        var report = File.Exists(Path.Combine(outDir, "report.json"))
            ? ReportFiles.Read(outDir)
            : new LoadReport
            {
                Generated = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
                Profile = "soak",
                Machine = MachineFacts.Machine(),
                Build = new BuildInfo(MachineFacts.GitCommit(), MachineFacts.DotnetVersion(), "native AOT", "", "", sidecars, ""),
            };
        report.Soak = soak;
        ReportFiles.Write(report, outDir);
        Console.Out.WriteLine($"soak: RSS trend {soak.Trend}; wrote {Path.Combine(outDir, "soak.json")} and report.html");
        return 0;
    }

    private static SoakSample Sample(ServerSample s, double p99, long answered) =>
        new(Math.Round(s.AtSeconds, 1), s.RssBytes, s.HeapBytes, s.Gen0, s.Gen1, s.Gen2, s.GcPauseMilliseconds, p99, answered);

    /// <summary>Least-squares slope of RSS over time, in bytes per minute.</summary>
    public static double SlopePerMinute(IReadOnlyList<SoakSample> samples)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var mx = samples.Average(s => s.AtSeconds / 60);
        var my = samples.Average(s => (double)s.RssBytes);
        var sxy = samples.Sum(s => ((s.AtSeconds / 60) - mx) * (s.RssBytes - my));
        var sxx = samples.Sum(s => Math.Pow((s.AtSeconds / 60) - mx, 2));
        return sxx == 0 ? 0 : sxy / sxx;
    }
}
