using Sidecars.Load.Compare;
using Sidecars.Load.Report;

namespace Sidecars.Tests.Load;

/// <summary>The open-loop verdicts: judged only when the generator kept its schedule, in the run and in the cap probe.</summary>
public sealed class VerdictsTests
{
    private static readonly Budgets Budgets = LoadBudgets();

    [Fact]
    public void A_round_that_kept_its_schedule_is_judged_against_the_floor()
    {
        var verdicts = Verdicts.Judge(Report(capCallsPerSecond: 8_000, sidecarsP99: 2.0, floorP99: 0.8), Budgets);

        var p99 = Assert.Single(verdicts, v => v.Budget == "open-loop p99");
        Assert.Equal("fail", p99.Result);
        Assert.Equal(1.05, p99.Limit!.Value, 6);
        Assert.Equal("pass", Assert.Single(verdicts, v => v.Budget == "no call unanswered").Result);
    }

    [Fact]
    public void A_machine_too_busy_for_the_cap_probe_leaves_every_open_loop_figure_unjudged()
    {
        var verdicts = Verdicts.Judge(Report(capCallsPerSecond: 0, sidecarsP99: 2.0, floorP99: 0.8), Budgets);

        var open = verdicts.Where(v => v.Budget is "open-loop p99" or "open-loop p99.9 <= 2 x floor" or "no call unanswered").ToList();
        Assert.Equal(3, open.Count);
        Assert.All(open, v => Assert.Equal("not-judged", v.Result));
        Assert.All(open, v => Assert.Contains("too busy", v.Detail, StringComparison.Ordinal));
    }

    private static LoadReport Report(double capCallsPerSecond, double sidecarsP99, double floorP99) => new()
    {
        Generated = "2026-12-03T00:00:00Z",
        Profile = "quick",
        Machine = new(2, 0, "", "", ""),
        Build = new("", "", "", "", "", "", ""),
        GeneratorCap = new(capCallsPerSecond, [], ""),
        Scenarios =
        [
            new ScenarioReport
            {
                Scenario = "rls-memory-3",
                OfferedRate = 125,
                Sidecars = new(125, 125, 375, 375, 0, 0, 0, 0.5, 0.6, sidecarsP99, sidecarsP99 + 1, sidecarsP99 + 1, false),
                Floor = new(125, 125, 375, 375, 0, 0, 0, 0.5, 0.6, floorP99, floorP99 + 1, floorP99 + 1, false),
            },
        ],
    };

    private static Budgets LoadBudgets()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root!.FullName, "Sidecars.sln")))
        {
            root = root.Parent;
        }

        return Budgets.Load(Path.Combine(root.FullName, "load", "budgets.yaml"));
    }
}

/// <summary>The open-loop round that is judged: one round's pair, the median by the sidecar's p99 over its floor's.</summary>
public sealed class OpenRoundPairTests
{
    [Fact]
    public void The_median_pair_skips_rounds_where_either_run_fell_behind_and_keeps_a_round_together()
    {
        // Round 2: the floor fell behind (a host stall); its quiet-looking sidecar run must not meet round 1's floor.
        List<Sidecars.Load.Model.RunResult> floor = [Run("floor", 0.62, false), Run("floor", 7.2, true), Run("floor", 1.0, false), Run("floor", 0.9, false), Run("floor", 0.8, false)];
        List<Sidecars.Load.Model.RunResult> sidecars = [Run("sidecars", 1.85, false), Run("sidecars", 0.5, false), Run("sidecars", 1.1, false), Run("sidecars", 0.8, false), Run("sidecars", 0.7, false)];

        var (f, sc) = CompareRunner.MedianPair(floor, sidecars);

        // Kept ratios: 2.98 (round 1), 1.10 (round 3), 0.89 (round 4), 0.875 (round 5): of four, the upper median.
        Assert.Same(floor[2], f);
        Assert.Same(sidecars[2], sc);
    }

    [Fact]
    public void When_every_round_fell_behind_one_is_still_reported_for_the_verdict_to_refuse()
    {
        List<Sidecars.Load.Model.RunResult> floor = [Run("floor", 1, true), Run("floor", 2, true), Run("floor", 3, true)];
        List<Sidecars.Load.Model.RunResult> sidecars = [Run("sidecars", 1, false), Run("sidecars", 4, false), Run("sidecars", 3, false)];

        var (f, sc) = CompareRunner.MedianPair(floor, sidecars);

        Assert.Same(floor[2], f); // ratios 1, 2, 1: sorted stably, rounds 1, 3, 2; the median is round 3
        Assert.True(f.Slip!.FellBehind);
        Assert.Same(sidecars[2], sc);
    }

    private static Sidecars.Load.Model.RunResult Run(string target, double p99, bool behind) => new()
    {
        Scenario = "rls-memory-3",
        Target = target,
        Mode = "open",
        Latency = new(p99 / 4, p99 / 2, p99, p99 * 2, p99 * 3, p99 / 3),
        Slip = new(behind ? 5 : 0.1, behind ? 20 : 1, behind ? 100 : 0, 10, behind),
    };
}

/// <summary>The generator cap probe: a rate is kept only when the generator and the floor both kept up with it.</summary>
public sealed class GeneratorCapMarginTests
{
    [Theory]
    [InlineData(0.06, 0.45, 2.9, 0L, false)]    // 16,000/s here: on schedule, under half a CPU, the floor keeping up
    [InlineData(0.47, 0.23, 155.9, 0L, true)]   // 32,000/s: little CPU only because the answers backed up behind the floor
    [InlineData(0.06, 0.30, 2.0, 5L, true)]     // calls left unanswered
    [InlineData(0.06, 0.55, 2.0, 0L, true)]     // over half of its CPU
    [InlineData(0.60, 0.20, 1.0, 0L, true)]     // slip p99 over half the judged 1 ms
    public void A_rate_is_kept_only_with_the_generator_and_the_floor_both_keeping_up(double slipP99, double cpus, double floorP99, long unanswered, bool over)
    {
        var run = new Sidecars.Load.Model.RunResult
        {
            Scenario = "check-cached",
            Target = "floor",
            Mode = "open",
            Latency = new(floorP99 / 4, floorP99 / 2, floorP99, floorP99 * 2, floorP99 * 3, floorP99 / 3),
            Slip = new(slipP99, slipP99 * 4, 0, 10, false),
            GeneratorCpus = cpus,
            Unanswered = unanswered,
        };

        Assert.Equal(over, CompareRunner.OverCapMargin(run, loadCpus: 1));
    }
}
