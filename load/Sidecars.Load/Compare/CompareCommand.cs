using Sidecars.Load.Report;

namespace Sidecars.Load.Compare;

/// <summary>
/// <c>sidecars-load compare [--quick|--ci] [--jit] [--out DIR] [--sidecars PATH] [--sidecars-jit PATH.dll] [--floor PATH] [--budgets FILE] [--pin on|off]</c>:
/// writes DIR/report.json and DIR/report.html and prints the table. Exit 0 when every judged budget passed, 1 when one
/// failed (not-judged ones do not fail the run; the table says why they were not judged), 2 for a usage error.
/// </summary>
public static class CompareCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        CompareOptions options;
        try
        {
            options = CompareOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            return 2;
        }

        var sidecars = Resolve(options.Sidecars, "SIDECARS_AOT_BINARY", "artifacts/aot/sidecars");
        var floor = Resolve(options.Floor, "SIDECARS_FLOOR_BINARY", "artifacts/floor/sidecars-floor");
        var jit = options.SidecarsJit ?? (File.Exists(DefaultJit) ? DefaultJit : null);
        foreach (var (what, path) in new[] { ("sidecars (--sidecars)", sidecars), ("floor (--floor)", floor), ("budgets (--budgets)", options.Budgets) })
        {
            if (!File.Exists(path))
            {
                Console.Error.WriteLine($"compare: {what} not found at {path}; load/compare.sh builds and publishes it");
                return 2;
            }
        }

        if (options.Jit && jit is null)
        {
            Console.Error.WriteLine($"compare: --jit needs the JIT build (--sidecars-jit PATH.dll, default {DefaultJit})");
            return 2;
        }

        var budgets = Budgets.Load(options.Budgets);
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            stop.Cancel();
        };
        var report = await new CompareRunner(options, budgets, Path.GetFullPath(sidecars), Path.GetFullPath(floor), jit is null ? null : Path.GetFullPath(jit))
            .RunAsync(stop.Token).ConfigureAwait(false);
        ReportFiles.Write(report, options.Out);
        Console.Out.Write(ConsoleTable.Render(report));
        Console.Out.WriteLine($"wrote {Path.Combine(options.Out, "report.json")} and {Path.Combine(options.Out, "report.html")}");
        return report.Verdicts.Any(v => v.Result == "fail") ? 1 : 0;
    }

    /// <summary>Where load/compare.sh builds the JIT sidecar.</summary>
    public const string DefaultJit = "src/Sidecars.Server/bin/Release/net10.0/sidecars.dll";

    private static string Resolve(string? given, string variable, string fallback) =>
        given ?? (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } fromEnvironment ? fromEnvironment : fallback);
}
