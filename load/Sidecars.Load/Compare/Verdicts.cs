using System.Globalization;
using Sidecars.Load.Report;

namespace Sidecars.Load.Compare;

/// <summary>Each budget of load/budgets.yaml against the report's figures: pass, fail, or not judged (and why).</summary>
public static class Verdicts
{
    public static List<Verdict> Judge(LoadReport report, Budgets budgets)
    {
        List<Verdict> verdicts = [];
        // A budget of a scenario this profile does not run (ci runs check-cached only) is left out, not listed as unjudged.
        var ran = report.Scenarios.Select(s => s.Scenario).ToHashSet();
        foreach (var (scenario, ratio) in budgets.MaxThroughput.Where(b => ran.Contains(b.Key)))
        {
            var s = report.Scenarios.FirstOrDefault(x => x.Scenario == scenario);
            const string Name = "max throughput >= ratio x floor";
            if (s?.MaxThroughput is not { } t)
            {
                verdicts.Add(new(Name, scenario, "not-judged", null, ratio, s is null ? "scenario not run in this profile" : "h2load not run (not installed or no body for this scenario)"));
            }
            else if (!t.SidecarsCheck.Agrees || !t.FloorCheck.Agrees)
            {
                verdicts.Add(new(Name, scenario, "not-judged", t.Ratio, ratio, "h2load cross-check failed: " + (t.SidecarsCheck.Agrees ? "floor: " + t.FloorCheck.Detail : "sidecars: " + t.SidecarsCheck.Detail)));
            }
            else
            {
                verdicts.Add(new(Name, scenario, t.Ratio >= ratio ? "pass" : "fail", t.Ratio, ratio, $"median of {t.Rounds.Count} rounds ({string.Join(", ", t.Rounds.Select(r => r.Ratio.ToString("F3", CultureInfo.InvariantCulture)))}); {t.SidecarsRps:F0} vs {t.FloorRps:F0} req/s"));
            }
        }

        foreach (var scenario in budgets.OpenLoopScenarios.Where(ran.Contains))
        {
            var s = report.Scenarios.FirstOrDefault(x => x.Scenario == scenario);
            if (s?.Sidecars is not { } sc || s.Floor is not { } fl)
            {
                var why = s is null ? "scenario not run in this profile" : "open-loop run missing";
                verdicts.Add(new("open-loop p99", scenario, "not-judged", null, null, why));
                verdicts.Add(new("open-loop p99.9 <= 2 x floor", scenario, "not-judged", null, null, why));
                verdicts.Add(new("no call unanswered", scenario, "not-judged", null, budgets.MaxUnanswered, why));
                continue;
            }

            // The cap probe already showed that the generator could not keep even its lowest rate against the floor:
            // a round that happened to keep it is a lucky moment of a busy machine, and its p99 of a few hundred
            // calls is one hiccup of the host more or less.
            var tooBusy = report.GeneratorCap is { CallsPerSecond: <= 0 };
            var behind = tooBusy || sc.GeneratorFellBehind || fl.GeneratorFellBehind;
            var behindWhy = tooBusy
                ? "the generator cap probe fell behind even at its lowest rate: this machine was too busy to judge open-loop figures"
                : $"the generator fell behind its own schedule ({(sc.GeneratorFellBehind ? "sidecars" : "floor")} run): it measured itself, not the server";
            var p99Limit = Math.Max(budgets.P99Ratio * fl.P99, fl.P99 + budgets.P99SlackMilliseconds);
            verdicts.Add(behind
                ? new("open-loop p99", scenario, "not-judged", sc.P99, p99Limit, behindWhy)
                : new("open-loop p99", scenario, sc.P99 <= p99Limit ? "pass" : "fail", sc.P99, p99Limit, $"floor p99 {fl.P99:F3} ms at {s.OfferedRate:F0} calls/s; limit max({budgets.P99Ratio} x floor, floor + {budgets.P99SlackMilliseconds} ms)"));
            var p999Limit = budgets.P999Ratio * fl.P999;
            verdicts.Add(behind
                ? new("open-loop p99.9 <= 2 x floor", scenario, "not-judged", sc.P999, p999Limit, behindWhy)
                : new("open-loop p99.9 <= 2 x floor", scenario, sc.P999 <= p999Limit ? "pass" : "fail", sc.P999, p999Limit, $"floor p99.9 {fl.P999:F3} ms"));
            verdicts.Add(behind
                ? new("no call unanswered", scenario, "not-judged", sc.Unanswered, budgets.MaxUnanswered, behindWhy)
                : new("no call unanswered", scenario, sc.Unanswered <= budgets.MaxUnanswered ? "pass" : "fail", sc.Unanswered, budgets.MaxUnanswered, $"{sc.Errors} errors, {sc.Unexpected} unexpected answers of {sc.Sent} sent"));
        }

        var memory = report.Memory.FirstOrDefault(m => m.Target == "sidecars");
        if (memory is null)
        {
            verdicts.Add(new("idle RSS <= MB", "sidecars", "not-judged", null, budgets.IdleRssMegabytes, "RSS not sampled"));
            verdicts.Add(new("RSS after check-cached <= ratio x idle", "check-cached", "not-judged", null, budgets.AfterLoadOverIdle, "RSS not sampled"));
        }
        else
        {
            var idle = memory.IdleRssBytes / 1048576.0;
            verdicts.Add(new("idle RSS <= MB", "sidecars", idle <= budgets.IdleRssMegabytes ? "pass" : "fail", Math.Round(idle, 1), budgets.IdleRssMegabytes, "VmRSS after start, MB"));
            var ratio = (double)memory.AfterLoadRssBytes / memory.IdleRssBytes;
            var shortLoad = memory.LoadSeconds < budgets.MemoryLoadSeconds ? $" (this profile ran {memory.LoadSeconds:F0} s of load, the budget is stated for {budgets.MemoryLoadSeconds:F0} s)" : "";
            verdicts.Add(new("RSS after check-cached <= ratio x idle", "check-cached", ratio <= budgets.AfterLoadOverIdle ? "pass" : "fail", Math.Round(ratio, 3), budgets.AfterLoadOverIdle, $"{memory.AfterLoadRssBytes / 1048576.0:F1} MB after {memory.Load}{shortLoad}"));
        }

        var floor = report.Startup.FirstOrDefault(x => x.Target == "floor");
        var aot = report.Startup.FirstOrDefault(x => x.Target == "sidecars");
        var jit = report.Startup.FirstOrDefault(x => x.Target == "sidecars-jit");
        if (floor is null || aot is null)
        {
            verdicts.Add(new("startup AOT <= ratio x floor", "startup", "not-judged", null, budgets.StartupOverFloor, "start-up not measured"));
        }
        else
        {
            var r = aot.MedianMilliseconds / floor.MedianMilliseconds;
            verdicts.Add(new("startup AOT <= ratio x floor", "startup", r <= budgets.StartupOverFloor ? "pass" : "fail", Math.Round(r, 3), budgets.StartupOverFloor, $"{aot.MedianMilliseconds:F1} ms vs floor {floor.MedianMilliseconds:F1} ms (median of {aot.SamplesMilliseconds.Count})"));
        }

        if (aot is null || jit is null)
        {
            verdicts.Add(new("startup AOT >= ratio x faster than JIT", "startup", "not-judged", null, budgets.StartupFasterThanJit, "the JIT build's start-up was not measured (the ci profile skips it; else pass --sidecars-jit, as compare.sh does)"));
        }
        else
        {
            var r = jit.MedianMilliseconds / aot.MedianMilliseconds;
            verdicts.Add(new("startup AOT >= ratio x faster than JIT", "startup", r >= budgets.StartupFasterThanJit ? "pass" : "fail", Math.Round(r, 3), budgets.StartupFasterThanJit, $"JIT {jit.MedianMilliseconds:F1} ms vs AOT {aot.MedianMilliseconds:F1} ms"));
        }

        return verdicts;
    }
}
