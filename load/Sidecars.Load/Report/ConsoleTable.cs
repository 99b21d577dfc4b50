using System.Globalization;
using System.Text;

namespace Sidecars.Load.Report;

/// <summary>The report as plain text for the terminal: scenarios side by side with the floor, then every verdict.</summary>
public static class ConsoleTable
{
    public static string Render(LoadReport report)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"load report ({report.Profile}) {report.Generated}: {report.Machine.Cores} cores, {report.Machine.CpuModel}, commit {report.Build.GitCommit}, sidecars {report.Build.SidecarsBuild} GC {report.Build.SidecarsGc}");
        text.AppendLine(CultureInfo.InvariantCulture, $"CPUs: {report.CpuPlacement}");
        if (report.GeneratorCap is { } cap)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"generator cap: {cap.CallsPerSecond:F0} calls/s ({cap.How})");
        }

        List<string[]> rows = [["scenario", "max sidecars", "max floor", "ratio", "rate", "p50", "p99", "floor p99", "p99.9", "floor p99.9", "max", "err s/f", "unans s/f"]];
        foreach (var s in report.Scenarios)
        {
            var t = s.MaxThroughput;
            rows.Add([
                s.Scenario,
                t is null ? "-" : F(t.SidecarsRps, 0),
                t is null ? "-" : F(t.FloorRps, 0),
                t is null ? "-" : F(t.Ratio, 3),
                F(s.OfferedRate, 0),
                F(s.Sidecars?.P50, 3),
                F(s.Sidecars?.P99, 3),
                F(s.Floor?.P99, 3),
                F(s.Sidecars?.P999, 3),
                F(s.Floor?.P999, 3),
                F(s.Sidecars?.Max, 2),
                $"{Bad(s.Sidecars)}/{Bad(s.Floor)}",
                $"{s.Sidecars?.Unanswered ?? 0}/{s.Floor?.Unanswered ?? 0}",
            ]);
        }

        Table(text, rows);
        foreach (var s in report.Startup)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"startup {s.Target}: median {s.MedianMilliseconds:F1} ms of [{string.Join(", ", s.SamplesMilliseconds.Select(v => F(v, 1)))}]");
        }

        foreach (var m in report.Memory)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"RSS {m.Target}: idle {m.IdleRssBytes / 1048576.0:F1} MB, after {m.Load} {m.AfterLoadRssBytes / 1048576.0:F1} MB");
        }

        text.AppendLine();
        List<string[]> verdicts = [["budget", "scenario", "verdict", "measured", "limit", "detail"]];
        verdicts.AddRange(report.Verdicts.Select(v => new[] { v.Budget, v.Scenario, v.Result.ToUpperInvariant(), F(v.Measured, 3), F(v.Limit, 3), v.Detail }));
        Table(text, verdicts);
        var failed = report.Verdicts.Count(v => v.Result == "fail");
        var unjudged = report.Verdicts.Count(v => v.Result == "not-judged");
        text.AppendLine(CultureInfo.InvariantCulture, $"{report.Verdicts.Count - failed - unjudged} passed, {failed} failed, {unjudged} not judged");
        foreach (var note in report.Notes)
        {
            text.AppendLine("note: " + note);
        }

        return text.ToString();
    }

    private static long Bad(Figures? f) => f is null ? 0 : f.Errors + f.Unexpected;

    private static string F(double? value, int digits) => value is { } v && double.IsFinite(v) ? v.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : "-";

    private static void Table(StringBuilder text, List<string[]> rows)
    {
        var widths = new int[rows[0].Length];
        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                widths[i] = Math.Max(widths[i], row[i].Length);
            }
        }

        foreach (var row in rows)
        {
            for (var i = 0; i < row.Length; i++)
            {
                // The last column (detail) is free text: left-aligned, not padded.
                text.Append(i == 0 || i == row.Length - 1 ? row[i].PadRight(i == row.Length - 1 ? 0 : widths[i]) : row[i].PadLeft(widths[i])).Append(i == row.Length - 1 ? "" : "  ");
            }

            text.AppendLine();
        }
    }
}
