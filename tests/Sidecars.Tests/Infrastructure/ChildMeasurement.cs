using System.Diagnostics;
using Sidecars.Tests.Envoy;

namespace Sidecars.Tests.Infrastructure;

/// <summary>
/// Runs a heap measurement in a fresh process: this test assembly started again as a program. The test process's
/// heap carries what a hundred earlier tests left (pools, timers, hosts shutting down, a GC mode a load run set), and
/// in CI that once read as 2.4 times the real footprint, steadily, with every other thread quiet. A child process
/// measures the product alone.
/// </summary>
public static class ChildMeasurement
{
    /// <summary>What <see cref="Main"/> can measure: each prints its lines, the last one the figure.</summary>
    private static readonly Dictionary<string, Func<TextWriter, long>> Measurements = new(StringComparer.Ordinal)
    {
        ["cached-token-footprint"] = CachedTokenFootprintTests.MeasureRetainedPerToken,
    };

    /// <summary>The entry point of the test assembly when started as <c>dotnet Sidecars.Tests.dll measure NAME</c>.</summary>
    public static int Main(string[] args)
    {
        if (args is not ["measure", var name] || !Measurements.TryGetValue(name, out var measure))
        {
            Console.Error.WriteLine($"usage: measure {string.Join('|', Measurements.Keys)}");
            return 2;
        }

        var figure = measure(Console.Out);
        Console.Out.WriteLine($"result {figure}");
        return 0;
    }

    /// <summary>Runs <paramref name="name"/> in a child process (at most 2 minutes); its output and its figure.</summary>
    public static async Task<(long Figure, string Output)> RunAsync(string name)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in (string[])["exec", Path.Combine(AppContext.BaseDirectory, "Sidecars.Tests.dll"), "measure", name])
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"measurement {name} did not finish within 2 minutes: {await stdout}");
        }

        var output = await stdout + await stderr;
        var last = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";
        Assert.True(process.ExitCode == 0 && last.StartsWith("result ", StringComparison.Ordinal), $"measurement {name} exited {process.ExitCode}: {output}");
        return (long.Parse(last["result ".Length..], System.Globalization.CultureInfo.InvariantCulture), output);
    }
}
