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
