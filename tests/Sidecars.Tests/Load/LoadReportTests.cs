using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Sidecars.Load.Compare;
using Sidecars.Tests.Server;

namespace Sidecars.Tests.Load;

/// <summary>
/// The load tool, briefly (issue 8, deliverable 4): a 2-second open-loop run at a low rate against the native AOT
/// sidecar and the AOT floor, then report.json must be complete and report.html must render every chart in a real
/// headless Chromium. No budget is asserted: this machine is shared and noisy; load/compare.sh judges the budgets.
/// </summary>
public sealed partial class LoadReportTests
{
    [Fact]
    public async Task A_brief_compare_writes_a_complete_report_that_renders_in_chromium()
    {
        var root = RepoRoot();
        var output = Directory.CreateTempSubdirectory("sidecars-load-report-").FullName;
        try
        {
            var code = await CompareCommand.RunAsync(
                ["--ci", "--out", output, "--sidecars", AotBinary.Path(), "--floor", FloorBinary(root), "--budgets", Path.Combine(root, "load", "budgets.yaml")]);
            Assert.True(code is 0 or 1, $"compare exited with {code} (2 is a usage error)");

            using var report = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(output, "report.json")));
            AssertComplete(report.RootElement);
            AssertRendered(await DumpDomAsync(Path.Combine(output, "report.html")));
        }
        finally
        {
            Directory.Delete(output, recursive: true);
        }
    }

    private static void AssertComplete(JsonElement r)
    {
        foreach (var field in new[] { "generated", "profile", "machine", "build", "scenarios", "startup", "memory", "verdicts", "runs", "notes" })
        {
            Assert.True(r.TryGetProperty(field, out _), $"report.json has no '{field}'");
        }

        Assert.True(r.GetProperty("machine").GetProperty("cores").GetInt32() > 0);
        Assert.False(string.IsNullOrEmpty(r.GetProperty("machine").GetProperty("cpu_model").GetString()));
        Assert.False(string.IsNullOrEmpty(r.GetProperty("build").GetProperty("git_commit").GetString()));
        Assert.Equal("native AOT", r.GetProperty("build").GetProperty("sidecars_build").GetString());
        Assert.NotEqual("", r.GetProperty("build").GetProperty("sidecars_gc").GetString());

        var scenario = Assert.Single(r.GetProperty("scenarios").EnumerateArray());
        Assert.Equal("check-cached", scenario.GetProperty("scenario").GetString());
        Assert.True(scenario.GetProperty("offered_rate").GetDouble() > 0);
        foreach (var target in new[] { "sidecars", "floor" })
        {
            var figures = scenario.GetProperty(target);
            Assert.True(figures.GetProperty("answered").GetInt64() > 0, $"{target}: no call answered");
            foreach (var p in new[] { "p50", "p90", "p99", "p999", "max" })
            {
                Assert.True(figures.GetProperty(p).GetDouble() > 0, $"{target}.{p} is not a latency");
            }
        }

        foreach (var ratio in scenario.GetProperty("ratios").EnumerateObject())
        {
            Assert.True(ratio.Value.ValueKind == JsonValueKind.Number && ratio.Value.GetDouble() > 0, $"ratio {ratio.Name} was not computed");
        }

        // h2load ran (scripts/test.sh installs it) and was cross-checked with the servers' own counters.
        var throughput = scenario.GetProperty("max_throughput");
        Assert.True(throughput.GetProperty("ratio").GetDouble() > 0);
        Assert.True(throughput.GetProperty("floor_check").GetProperty("server_calls").GetInt64() > 0);

        var runs = r.GetProperty("runs").EnumerateArray().ToList();
        foreach (var target in new[] { "sidecars", "floor" })
        {
            var run = runs.Single(x => x.GetProperty("target").GetString() == target && x.GetProperty("mode").GetString() == "open");
            Assert.NotEmpty(run.GetProperty("curve").EnumerateArray());
            Assert.NotEmpty(run.GetProperty("timeline").EnumerateArray());
            Assert.Equal(JsonValueKind.Object, run.GetProperty("server_after").ValueKind);
        }

        Assert.Equal(["floor", "sidecars"], r.GetProperty("startup").EnumerateArray().Select(s => s.GetProperty("target").GetString()).Order());
        Assert.All(r.GetProperty("memory").EnumerateArray(), m => Assert.True(m.GetProperty("idle_rss_bytes").GetInt64() > 0));
        var verdicts = r.GetProperty("verdicts").EnumerateArray().ToList();
        Assert.NotEmpty(verdicts);
        Assert.All(verdicts, v => Assert.Contains(v.GetProperty("result").GetString(), new[] { "pass", "fail", "not-judged" }));
    }

    private static void AssertRendered(string dom)
    {
        Assert.Contains("data-report-rendered=\"true\"", dom, StringComparison.Ordinal);
        var charts = ChartElement().Matches(dom).Select(m => m.Value).ToList();
        foreach (var kind in new[] { "verdicts", "summary", "throughput", "errors", "startup", "memory", "percentile-curve", "latency-timeline", "throughput-timeline", "errors-timeline" })
        {
            Assert.Contains(charts, c => c.Contains($"data-chart=\"{kind}\"", StringComparison.Ordinal));
        }

        Assert.All(charts, c => Assert.Contains("data-rendered=\"true\"", c, StringComparison.Ordinal));

        // The curve of each target drawn, not an empty frame.
        var curve = charts.Single(c => c.Contains("data-chart=\"percentile-curve\"", StringComparison.Ordinal));
        Assert.Contains("data-series=\"2\"", curve, StringComparison.Ordinal);
        var drawn = SeriesPath().Matches(dom).Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("floor", drawn);
        Assert.Contains("sidecars", drawn);
    }

    private static async Task<string> DumpDomAsync(string html)
    {
        var profile = Directory.CreateTempSubdirectory("sidecars-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo("chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile, "--dump-dom", new Uri(html).AbsoluteUri])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            Process process;
            try
            {
                process = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception e)
            {
                throw new InvalidOperationException("chromium is not installed: run scripts/test.sh (it installs Debian's chromium) or `apt-get install chromium`", e);
            }

            using (process)
            {
                var dom = process.StandardOutput.ReadToEndAsync();
                _ = process.StandardError.ReadToEndAsync();
                using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(90));
                await process.WaitForExitAsync(bound.Token);
                return await dom;
            }
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    private static string FloorBinary(string root)
    {
        var path = Environment.GetEnvironmentVariable("SIDECARS_FLOOR_BINARY") is { Length: > 0 } p ? p : Path.Combine(root, "artifacts", "floor", "sidecars-floor");
        Assert.True(File.Exists(path), $"native AOT floor not found at {path}: run scripts/test.sh, which publishes it before the tests");
        return path;
    }

    private static string RepoRoot()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Sidecars.sln")))
        {
            root = root.Parent;
        }

        return root?.FullName ?? throw new InvalidOperationException("Sidecars.sln not found above " + AppContext.BaseDirectory);
    }

    [GeneratedRegex("<(?:div|table)[^>]*data-chart=\"[^\"]+\"[^>]*>")]
    private static partial Regex ChartElement();

    [GeneratedRegex("<path[^>]*data-series-name=\"([^\"]+)\"")]
    private static partial Regex SeriesPath();
}
