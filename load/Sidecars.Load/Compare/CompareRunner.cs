using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Envoy.Service.Auth.V3;
using Sidecars.Load.Generator;
using Sidecars.Load.Model;
using Sidecars.Load.Report;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Compare;

/// <summary>
/// One compare run: the floor and the sidecar side by side, alternating, every scenario measured twice — max
/// throughput by h2load (closed loop), then latency by our open-loop generator at one rate for both — then memory
/// and start-up, then the verdicts of load/budgets.yaml.
/// </summary>
public sealed class CompareRunner(CompareOptions options, Budgets budgets, string sidecars, string floor, string? sidecarsJit)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly List<RunResult> _runs = [];
    private readonly List<string> _notes = [];
    private CpuPlacement _placement = CpuPlacement.Unpinned("not decided yet");
    private string Logs => Path.Combine(options.Out, "logs");

    public async Task<LoadReport> RunAsync(CancellationToken ct)
    {
        Directory.CreateDirectory(Logs);
        using var placement = _placement = CpuPlacement.Apply(options.PinCpus);
        Say("CPUs: " + _placement.How);
        // Signing the token pools takes a minute on a busy machine: --config reuses a directory an earlier prepare
        // wrote, while its tokens (valid 24 h) have at least 12 h left.
        var tokens = options.Config is { } reuse ? Path.Combine(reuse, "tokens.json") : null;
        var config = tokens is not null && File.Exists(tokens) && File.GetLastWriteTimeUtc(tokens) > DateTime.UtcNow.AddHours(-12)
            ? PreparedConfig.Load(options.Config!)
            : PreparedConfig.Prepare(options.Config ?? Path.Combine(options.Out, "config"));
        Say($"config {config.Directory}: {config.Tokens.Count} users' tokens");

        List<ScenarioReport> scenarios = [];
        List<MemoryReport> memory = [];
        string sidecarsGc, floorGc;
        GeneratorCap? cap = null;
        await using (var floorServer = await StartAsync("floor", ServerCommand.Floor(floor)).ConfigureAwait(false))
        await using (var sidecarsServer = await StartAsync("sidecars", ServerCommand.Sidecars(sidecars, config.Directory, redis: null)).ConfigureAwait(false))
        {
            // Idle: both started, nothing sent yet; a moment to settle the start-up's allocations.
            await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
            var floorIdle = floorServer.RssBytes();
            var sidecarsIdle = sidecarsServer.RssBytes();
            floorGc = Gc(await floorServer.ReadyzAsync().ConfigureAwait(false));
            sidecarsGc = Gc(await sidecarsServer.ReadyzAsync().ConfigureAwait(false));
            Say($"idle RSS: floor {floorIdle / 1048576.0:F1} MB, sidecars {sidecarsIdle / 1048576.0:F1} MB");

            RedisServerProcess? redis = null;
            ServerProcess? sidecarsRedis = null;
            try
            {
                foreach (var scenario in options.Scenarios)
                {
                    var target = sidecarsServer;
                    if (scenario.StartsWith("rls-redis", StringComparison.Ordinal))
                    {
                        redis ??= RedisServerProcess.Start(Logs);
                        sidecarsRedis ??= await StartAsync("sidecars-redis", ServerCommand.Sidecars(sidecars, config.Directory, redis.Endpoint)).ConfigureAwait(false);
                        target = sidecarsRedis;
                    }

                    var report = new ScenarioReport { Scenario = scenario };
                    scenarios.Add(report);
                    report.MaxThroughput = await MaxThroughputAsync(scenario, config, floorServer, target, ct).ConfigureAwait(false);

                    // The cap is searched once, on the first scenario, up to the floor's max (the floor cannot go faster).
                    if (cap is null && options.FixedRate is null)
                    {
                        cap = await GeneratorCapAsync(config, floorServer, report.MaxThroughput?.FloorRps ?? 50_000, ct).ConfigureAwait(false);
                    }

                    report.OfferedRate = Rate(report.MaxThroughput, cap);
                    if (scenario is "check-cached" or "check+limit" or "mixed" || scenario.StartsWith("rls-", StringComparison.Ordinal))
                    {
                        // "Cached" means token-cache hits: each target first sees every user's token once, unmeasured,
                        // else the open loop's first pass over the pool would time 10,000 cold validations. The
                        // rate limit scenarios likewise: the first pass over 10,000 users makes their buckets (the
                        // first sidecars round after h2load was 2.3-2.5 ms p99 where the next two were 0.8-1.5 ms).
                        await PrimeAsync(scenario, "floor", floorServer, config, ct).ConfigureAwait(false);
                        await PrimeAsync(scenario, "sidecars", target, config, ct).ConfigureAwait(false);
                    }

                    var (floorRun, sidecarsRun) = await OpenLoopRoundsAsync(scenario, floorServer, target, report, config, ct).ConfigureAwait(false);
                    report.Floor = Figures(floorRun);
                    report.Sidecars = Figures(sidecarsRun);
                    report.Ratios = Ratios(report.Sidecars, report.Floor);
                    if (scenario == "check-cached")
                    {
                        memory.AddRange(await MemoryAsync(floorServer, floorIdle, sidecarsServer, sidecarsIdle, report.OfferedRate, config, ct).ConfigureAwait(false));
                        if (options.Jit && sidecarsJit is not null)
                        {
                            await JitLoadAsync(scenario, config, report.OfferedRate, ct).ConfigureAwait(false);
                        }
                    }
                }
            }
            finally
            {
                if (sidecarsRedis is not null)
                {
                    await sidecarsRedis.DisposeAsync().ConfigureAwait(false);
                }

                redis?.Dispose();
            }
        }

        var startup = await StartupAsync(config).ConfigureAwait(false);
        var report2 = new LoadReport
        {
            Generated = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            Profile = options.Profile,
            Machine = MachineFacts.Machine(),
            Build = new BuildInfo(MachineFacts.GitCommit(), MachineFacts.DotnetVersion(), sidecars.EndsWith(".dll", StringComparison.Ordinal) ? "JIT" : "native AOT", sidecarsGc, floorGc, sidecars, floor),
            CpuPlacement = _placement.How,
            GeneratorCap = cap,
            Scenarios = scenarios,
            Startup = startup,
            Memory = memory,
            Runs = _runs,
            Notes = _notes,
        };
        report2.Verdicts.AddRange(Verdicts.Judge(report2, budgets));
        Say($"done in {_clock.Elapsed.TotalSeconds:F0} s");
        return report2;
    }

    private async Task<ServerProcess> StartAsync(string label, ServerCommand command)
    {
        var server = ServerProcess.Start(label, _placement.Place(command), Path.Combine(Logs, label + ".log"));
        try
        {
            await server.WaitReadyAsync(TimeSpan.FromSeconds(30)).ConfigureAwait(false);
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return server;
    }

    private async Task<Throughput?> MaxThroughputAsync(string scenario, PreparedConfig config, ServerProcess floorServer, ServerProcess target, CancellationToken ct)
    {
        if (!H2Load.Installed())
        {
            _notes.Add("h2load is not installed (Debian: apt-get install nghttp2-client): no max-throughput figures");
            return null;
        }

        var body = config.H2LoadBody(scenario);
        if (scenario == "check-cold")
        {
            // h2load repeats one message: one token, cached after the first call — that would be check-cached again.
            _notes.Add("check-cold: no h2load figure (h2load repeats one message, so its token would be cached after the first call)");
            return null;
        }

        if (!File.Exists(body))
        {
            _notes.Add($"{scenario}: no single h2load body (a mixed or per-call-changing scenario): max throughput comes from h2load only where one message repeats");
            return null;
        }

        var expect = JsonSerializer.Deserialize(await File.ReadAllTextAsync(config.H2LoadExpect(scenario), ct).ConfigureAwait(false), LoadJsonContext.Default.H2LoadExpectation)
            ?? throw new InvalidDataException(config.H2LoadExpect(scenario));
        if (expect.SidecarsResponseFrameBytes == 0)
        {
            // The sidecar's answer depends on the token's claims, so prepare leaves its size open: one call measures it.
            try
            {
                expect = expect with { SidecarsResponseFrameBytes = await H2LoadProbe.ResponseFrameBytesAsync(target.Endpoint, config, scenario, ct).ConfigureAwait(false) };
            }
            catch (Grpc.Core.RpcException e)
            {
                _notes.Add($"{scenario}: the sidecar answered the h2load body with {e.StatusCode}; its response size is not compared");
            }
        }

        // The machine is shared and its speed drifts by tens of percent within minutes: each round runs the two
        // back to back, in alternating order so neither always gets the cooler moment, and the verdict takes the
        // median of the rounds' own ratios, which one noisy run cannot move.
        List<ThroughputRound> rounds = [];
        H2LoadCheck? floorCheck = null, sidecarsCheck = null;
        for (var round = 0; round < options.H2LoadRounds; round++)
        {
            var order = round % 2 == 0
                ? new[] { ("floor", floorServer), ("sidecars", target) }
                : new[] { ("sidecars", target), ("floor", floorServer) };
            double floorRps = 0, sidecarsRps = 0;
            foreach (var (label, server) in order)
            {
                var before = await server.SampleAsync(_clock.Elapsed).ConfigureAwait(false);
                var s = options.H2Load;
                var (output, _) = await H2Load.RunAsync(server.Endpoint, expect.Path, body, s.Clients, s.Streams, s.Duration, s.Warmup, ct).ConfigureAwait(false);
                var after = await server.SampleAsync(_clock.Elapsed).ConfigureAwait(false);
                var check = H2LoadCrossCheck.Judge(output, before, after, expect, label == "floor", s.Clients * s.Streams);
                var run = H2Load.ToRunResult(scenario, label, output, s);
                run.ServerBefore = before;
                run.ServerAfter = after;
                run.Notes["cross_check"] = check.Detail;
                run.Notes["round"] = (round + 1).ToString(CultureInfo.InvariantCulture);
                _runs.Add(run);

                // One disagreeing round is enough to distrust the figure.
                if (label == "floor")
                {
                    floorRps = output.RequestsPerSecond;
                    floorCheck = floorCheck is { Agrees: false } ? floorCheck : check;
                }
                else
                {
                    sidecarsRps = output.RequestsPerSecond;
                    sidecarsCheck = sidecarsCheck is { Agrees: false } ? sidecarsCheck : check;
                }

                Say($"h2load {scenario} round {round + 1} {label}: {output.RequestsPerSecond:F0} req/s; {check.Detail}");
            }

            rounds.Add(new ThroughputRound(order[0].Item1, Math.Round(sidecarsRps, 1), Math.Round(floorRps, 1), Math.Round(floorRps > 0 ? sidecarsRps / floorRps : 0, 4)));
        }

        var ratio = Median(rounds.Select(r => r.Ratio));
        Say($"h2load {scenario}: ratio {ratio:F3} (median of {rounds.Count} rounds: {string.Join(", ", rounds.Select(r => r.Ratio.ToString("F3", CultureInfo.InvariantCulture)))})");
        return new Throughput(Median(rounds.Select(r => r.SidecarsRps)), Median(rounds.Select(r => r.FloorRps)), ratio, sidecarsCheck!, floorCheck!, rounds);
    }

    /// <summary>
    /// Open loop against the floor at doubling rates from 1,000/s until the generator's own slip leaves its margin
    /// (<see cref="CapSlipP99Milliseconds"/>); if it cannot even keep 1,000/s, at halving rates down to 125/s for one
    /// it can keep.
    /// </summary>
    /// <remarks>
    /// The margin: the probe runs beside the floor, the judged runs also beside the sidecar, which takes more of the
    /// two cores per call. A cap that only just kept the 1 ms bound against the floor (16,000/s: slip p99 0.81 ms)
    /// fell behind in 5 of the 9 judged runs that followed, so a rate is kept only with half the bound to spare.
    /// </remarks>
    /// <summary>The generator cap's margin: half of <see cref="OpenLoop.MaxSlipP99Milliseconds"/>, the bound a judged run must keep.</summary>
    public const double CapSlipP99Milliseconds = OpenLoop.MaxSlipP99Milliseconds / 2;

    /// <summary>The generator cap's CPU margin: at most half of the CPUs the load runs on (pinned: one CPU).</summary>
    public const double CapCpuShare = 0.5;

    /// <summary>Whether a cap probe's run left the cap's margin: its rate is too fast to compare servers at.</summary>
    internal static bool OverCapMargin(RunResult run, int loadCpus)
    {
        // Its CPU too: a generator short of CPU reads answers late, which shows in latency, not in its slip.
        var busy = run.GeneratorCpus > CapCpuShare * loadCpus;
        // And the floor keeping up: answers backed up behind a saturated floor leave the generator waiting, not
        // reading, so its CPU says nothing of the rate (32,000/s: 0.23 CPUs at a floor p99 of 156 ms, where
        // 16,000/s took 0.45; the judged rls runs at 31,000/s then took the generator 0.68-0.85 CPUs).
        var saturated = run.Latency.P99 > OpenLoop.LateMilliseconds || run.Unanswered > 0;
        return run.Slip is not { } slip || slip.FellBehind || slip.P99Milliseconds > CapSlipP99Milliseconds || busy || saturated;
    }

    private async Task<GeneratorCap> GeneratorCapAsync(PreparedConfig config, ServerProcess floorServer, double floorMax, CancellationToken ct)
    {
        List<CapStep> steps = [];
        double passed = 0;
        for (var rate = 1000.0; rate <= floorMax; rate *= 2)
        {
            // One more try before a rate counts as too fast: this VM's own timer wake-ups miss by over a millisecond
            // now and then (a bare nanosleep loop in C: p99 0.25 ms, p99.9 1.7 ms at 1 ms gaps), most at low rates.
            if (await CapStepAsync(rate).ConfigureAwait(false) && await CapStepAsync(rate).ConfigureAwait(false))
            {
                break;
            }

            passed = rate;
        }

        for (var rate = 500.0; passed == 0 && rate >= 125; rate /= 2)
        {
            if (!await CapStepAsync(rate).ConfigureAwait(false))
            {
                passed = rate;
            }
        }

        var reached = steps.Count > 0 && steps.Any(s => s.FellBehind);
        var how = passed == 0
            ? "the generator fell behind even at 125/s against the floor: this machine is too busy to judge open-loop figures"
            : reached
                ? $"open loop against the floor at doubling (or halving) rates from 1000/s, a rate tried twice before it counts as too fast: {passed:F0}/s was the highest rate kept with half the judged bound to spare (slip p99 <= {CapSlipP99Milliseconds} ms, <= 1% of calls > 10 ms late), the generator using at most {CapCpuShare:P0} of its CPUs and the floor keeping up (p99 <= {OpenLoop.LateMilliseconds} ms, every call answered)"
                : $"open loop against the floor at doubling rates up to the floor's max ({floorMax:F0} req/s) never fell behind: the cap is above {passed:F0}/s";
        return new GeneratorCap(passed, steps, how);

        async Task<bool> CapStepAsync(double rate)
        {
            var spec = new RunSpec("check-cached", "floor", floorServer.Endpoint, LoopMode.Open, rate, options.CapStep, TimeSpan.FromSeconds(0.5)) { Client = options.Client };
            var run = await LoadRunner.RunAsync(spec, config, ct).ConfigureAwait(false);
            run.Notes["role"] = "cap";
            _runs.Add(run);
            var behind = OverCapMargin(run, _placement.LoadCpuCount);
            steps.Add(new CapStep(rate, run.Slip?.P99Milliseconds ?? 0, run.Slip?.LateCalls ?? 0, behind));
            Say($"generator cap probe {rate:F0}/s: slip p99 {run.Slip?.P99Milliseconds:F3} ms, {run.Slip?.LateCalls} late, generator {run.GeneratorCpus:F2} CPUs, floor p99 {run.Latency.P99:F3} ms{(behind ? $" — over the cap's margin (slip p99 <= {CapSlipP99Milliseconds} ms, generator <= {CapCpuShare * _placement.LoadCpuCount:F1} CPUs, the floor's p99 <= {OpenLoop.LateMilliseconds} ms with every call answered)" : "")}");
            return behind;
        }
    }

    private double Rate(Throughput? max, GeneratorCap? cap)
    {
        if (options.FixedRate is { } fixedRate)
        {
            return fixedRate;
        }

        var half = max is null ? double.MaxValue : 0.5 * Math.Min(max.FloorRps, max.SidecarsRps);
        // No rate kept at all: run at the lowest probed rate anyway; the slip marks those runs "not judged".
        var limit = cap is { CallsPerSecond: > 0 } ? cap.CallsPerSecond : 125;
        return Math.Round(Math.Min(half, limit));
    }

    /// <summary>One closed-loop pass over the token pool, not recorded; says how much of the pool it covered.</summary>
    private async Task PrimeAsync(string scenario, string label, ServerProcess server, PreparedConfig config, CancellationToken ct)
    {
        // A bucket is made in microseconds, a token validated in about a millisecond: a second covers the users' keys.
        var duration = scenario.StartsWith("rls-", StringComparison.Ordinal) ? TimeSpan.FromSeconds(1) : options.PrimeDuration;
        var spec = new RunSpec(scenario, label, server.Endpoint, LoopMode.Closed, 0, duration, TimeSpan.Zero, Concurrency: 32, Client: options.Client);
        var run = await LoadRunner.RunAsync(spec, config, ct).ConfigureAwait(false);
        Say(string.Create(CultureInfo.InvariantCulture, $"primed {scenario} {label}: {run.Sent} calls over {PreparedConfig.Users} users ({run.Errors} errors){(run.Sent < PreparedConfig.Users ? " — NOT the whole pool" : "")}"));
    }

    /// <summary>
    /// The open loop in rounds, floor and sidecars back to back in alternating order, as for max throughput: one
    /// run's p99 moves by a factor of two on this shared machine. The judged figures are one round's pair, the median
    /// round by the sidecar's p99 over the floor's in that same round, among the rounds where the generator kept its
    /// schedule in both runs (real runs, so their percentiles, curves and timelines belong together). Pairs, not each
    /// target's own median: a stall of the host spoils the floor's and the sidecar's runs of the same minute, and
    /// medians taken apart compared the sidecar's stalled round with the floor's one quiet round (1.85 against
    /// 0.62 ms, where that round's own floor run had kept its schedule with 7.2 ms). The other rounds stay in the
    /// report as "round".
    /// </summary>
    private async Task<(RunResult Floor, RunResult Sidecars)> OpenLoopRoundsAsync(string scenario, ServerProcess floorServer, ServerProcess target, ScenarioReport report, PreparedConfig config, CancellationToken ct)
    {
        List<RunResult> floorRuns = [], sidecarsRuns = [];
        for (var round = 0; round < options.OpenRounds; round++)
        {
            var floorFirst = round % 2 == 0;
            foreach (var floor in floorFirst ? new[] { true, false } : [false, true])
            {
                var run = await OpenLoopAsync(scenario, floor ? "floor" : "sidecars", floor ? floorServer : target, report.OfferedRate, config, ct, role: "round").ConfigureAwait(false);
                run.Notes["round"] = (round + 1).ToString(CultureInfo.InvariantCulture);
                (floor ? floorRuns : sidecarsRuns).Add(run);
            }
        }

        var (floorMedian, sidecarsMedian) = MedianPair(floorRuns, sidecarsRuns);
        floorMedian.Notes["role"] = "judged";
        sidecarsMedian.Notes["role"] = "judged";
        report.OpenRounds = [.. floorRuns.Zip(sidecarsRuns, (f, sc) => new OpenRound(
            Math.Round(sc.Latency.P99, 3), Math.Round(f.Latency.P99, 3), Math.Round(sc.Latency.P999, 3), Math.Round(f.Latency.P999, 3),
            (sc.Slip?.FellBehind ?? false) || (f.Slip?.FellBehind ?? false)))];
        if (options.OpenRounds > 1)
        {
            Say(string.Create(CultureInfo.InvariantCulture, $"open {scenario}: median round by p99 ratio: sidecars {sidecarsMedian.Latency.P99:F3} ms, floor {floorMedian.Latency.P99:F3} ms (each round, sidecars / floor: {string.Join(", ", floorRuns.Zip(sidecarsRuns, (f, sc) => $"{sc.Latency.P99:F3} / {f.Latency.P99:F3}{(Behind(f) || Behind(sc) ? " fell behind" : "")}"))})"));
        }

        return (floorMedian, sidecarsMedian);
    }

    internal static (RunResult Floor, RunResult Sidecars) MedianPair(List<RunResult> floorRuns, List<RunResult> sidecarsRuns)
    {
        // Rounds where the generator fell behind in either run measured the generator: they are left out unless all
        // did (then the verdicts say "not judged"). Of an even count, the upper median: never the kinder of the two.
        var pairs = floorRuns.Zip(sidecarsRuns).ToList();
        var kept = pairs.Where(p => !Behind(p.First) && !Behind(p.Second)).ToList();
        var pool = kept.Count > 0 ? kept : pairs;
        var sorted = pool.OrderBy(p => p.Second.Latency.P99 / Math.Max(p.First.Latency.P99, 1e-6)).ToList();
        return sorted[sorted.Count / 2];
    }

    private static bool Behind(RunResult run) => run.Slip?.FellBehind == true;

    private async Task<RunResult> OpenLoopAsync(string scenario, string label, ServerProcess server, double rate, PreparedConfig config, CancellationToken ct, TimeSpan? duration = null, string role = "judged")
    {
        var spec = new RunSpec(scenario, label, server.Endpoint, LoopMode.Open, rate, duration ?? options.OpenDuration, options.OpenWarmup, Client: options.Client);
        var before = await server.SampleAsync(_clock.Elapsed).ConfigureAwait(false);
        var run = await LoadRunner.RunAsync(spec, config, ct).ConfigureAwait(false);
        run.ServerBefore = before;
        run.ServerAfter = await server.SampleAsync(_clock.Elapsed).ConfigureAwait(false);
        run.Notes["role"] = role;
        _runs.Add(run);
        Say(string.Create(CultureInfo.InvariantCulture, $"open {scenario} {label} at {rate:F0}/s: p50 {run.Latency.P50:F3} p99 {run.Latency.P99:F3} p99.9 {run.Latency.P999:F3} max {run.Latency.Max:F2} ms, {run.Errors} errors, {run.Unexpected} unexpected, {run.Unanswered} unanswered, generator {run.GeneratorCpus:F2} CPUs{(run.Slip?.FellBehind == true ? ", GENERATOR FELL BEHIND" : "")}"));
        return run;
    }

    private async Task<List<MemoryReport>> MemoryAsync(ServerProcess floorServer, long floorIdle, ServerProcess sidecarsServer, long sidecarsIdle, double rate, PreparedConfig config, CancellationToken ct)
    {
        var loaded = options.H2LoadRounds * (options.H2Load.Duration + options.H2Load.Warmup) + options.OpenRounds * (options.OpenDuration + options.OpenWarmup);
        var load = "h2load and the open-loop run of check-cached";
        if (options.MemoryLoad)
        {
            var seconds = TimeSpan.FromSeconds(budgets.MemoryLoadSeconds);
            await OpenLoopAsync("check-cached", "sidecars", sidecarsServer, rate, config, ct, seconds, "memory").ConfigureAwait(false);
            loaded = seconds;
            load = $"{seconds.TotalSeconds:F0} s of check-cached over {PreparedConfig.Users} users at {rate:F0}/s";
        }

        return
        [
            new MemoryReport("floor", floorIdle, floorServer.RssBytes(), Math.Round(loaded.TotalSeconds), load),
            new MemoryReport("sidecars", sidecarsIdle, sidecarsServer.RssBytes(), Math.Round(loaded.TotalSeconds), load),
        ];
    }

    /// <summary>--jit: the same check-cached runs against the JIT build, reported beside the others (no budget).</summary>
    private async Task JitLoadAsync(string scenario, PreparedConfig config, double rate, CancellationToken ct)
    {
        await using var jit = await StartAsync("sidecars-jit", ServerCommand.Sidecars(sidecarsJit!, config.Directory, redis: null)).ConfigureAwait(false);
        var run = await OpenLoopAsync(scenario, "sidecars-jit", jit, rate, config, ct, role: "jit").ConfigureAwait(false);
        _notes.Add(string.Create(CultureInfo.InvariantCulture, $"JIT build, {scenario} open loop at {rate:F0}/s: p99 {run.Latency.P99:F3} ms, p99.9 {run.Latency.P999:F3} ms, RSS after {jit.RssBytes() / 1048576.0:F1} MB"));
    }

    private async Task<List<StartupReport>> StartupAsync(PreparedConfig config)
    {
        var frame = await File.ReadAllBytesAsync(config.H2LoadBody("check-cached")).ConfigureAwait(false);
        var request = CheckRequest.Parser.ParseFrom(frame.AsSpan(5));
        var samples = options.StartupSamples(budgets.StartupSamples);
        List<(string Label, Func<ServerCommand> Command)> targets =
        [
            ("floor", () => ServerCommand.Floor(floor)),
            ("sidecars", () => ServerCommand.Sidecars(sidecars, config.Directory, redis: null)),
        ];
        if (sidecarsJit is not null && options.Profile != "ci")
        {
            targets.Add(("sidecars-jit", () => ServerCommand.Sidecars(sidecarsJit, config.Directory, redis: null)));
        }

        // Alternating spawns (floor, AOT, JIT, floor, ...) so a noisy moment hits every target alike.
        var results = targets.ToDictionary(t => t.Label, _ => new List<double>());
        for (var i = 0; i < samples; i++)
        {
            foreach (var (label, command) in targets)
            {
                results[label].AddRange(await StartupProbe.MeasureAsync(label, command, request, 1, Logs).ConfigureAwait(false));
            }
        }

        List<StartupReport> reports = [.. results.Select(r => new StartupReport(r.Key, [.. r.Value.Select(v => Math.Round(v, 2))], Math.Round(StartupProbe.Median(r.Value), 2)))];
        foreach (var r in reports)
        {
            Say($"startup {r.Target}: median {r.MedianMilliseconds:F1} ms");
        }

        return reports;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }

        var mid = sorted.Length / 2;
        return Math.Round(sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2, 4);
    }

    private static Figures Figures(RunResult r) => new(
        r.OfferedRate, r.AchievedRate, r.Sent, r.Answered, r.Errors, r.Unexpected, r.Unanswered,
        r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.P999, r.Latency.Max, r.Slip?.FellBehind ?? false);

    private static Ratios Ratios(Figures s, Figures f)
    {
        static double? R(double a, double b) => b > 0 ? Math.Round(a / b, 4) : null;
        return new Ratios(R(s.AchievedRate, f.AchievedRate), R(s.P50, f.P50), R(s.P90, f.P90), R(s.P99, f.P99), R(s.P999, f.P999), R(s.Max, f.Max));
    }

    private static string Gc(ReadyzCounters readyz) => readyz.Runtime is { } r ? (r.ServerGc ? "server" : "workstation") : "unknown (no runtime in /readyz)";

    private void Say(string line) => Console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{_clock.Elapsed.TotalSeconds,6:F1}s] {line}"));
}
