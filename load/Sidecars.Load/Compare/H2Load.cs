using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Sidecars.Load.Model;

namespace Sidecars.Load.Compare;

/// <summary>
/// h2load (Debian's nghttp2-client) posting one pre-encoded gRPC request in a closed loop: an independent client
/// for the max-throughput figure, so the figure does not depend on our own generator.
/// </summary>
public static partial class H2Load
{
    public const string Binary = "h2load";

    public static bool Installed()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, Binary)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>What h2load printed, parsed. Latencies in milliseconds (h2load gives min, max, mean and sd only).</summary>
    public sealed record Output(
        double Seconds,
        double RequestsPerSecond,
        long Total,
        long Started,
        long Done,
        long Succeeded,
        long Failed,
        long Errored,
        long Timeout,
        long Status2xx,
        long StatusOther,
        long DataBytes,
        double MinMs,
        double MaxMs,
        double MeanMs);

    public static async Task<(Output Output, string Text)> RunAsync(
        string endpoint, string path, string bodyFile, int clients, int streams, TimeSpan duration, TimeSpan warmup, CancellationToken ct)
    {
        var start = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        List<string> args =
        [
            "-c", clients.ToString(CultureInfo.InvariantCulture),
            "-m", streams.ToString(CultureInfo.InvariantCulture),
            "-D", Seconds(duration),
        ];
        if (warmup > TimeSpan.Zero)
        {
            args.AddRange(["--warm-up-time", Seconds(warmup)]);
        }

        args.AddRange(
        [
            "-d", bodyFile,
            "-H", "content-type: application/grpc",
            "-H", "te: trailers",
            endpoint.TrimEnd('/') + path,
        ]);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start h2load");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var bound = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bound.CancelAfter(duration + warmup + TimeSpan.FromSeconds(30));
        try
        {
            await process.WaitForExitAsync(bound.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException("h2load did not finish in time");
        }

        var text = await stdout.ConfigureAwait(false) + await stderr.ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"h2load exited with {process.ExitCode}: {text}");
        }

        return (Parse(text), text);
    }

    /// <summary>Parses h2load's summary (nghttp2 1.52 layout: "finished in", "requests:", "status codes:", "traffic:", "time for request:").</summary>
    public static Output Parse(string text)
    {
        var finished = Finished().Match(text);
        var requests = Requests().Match(text);
        var codes = Codes().Match(text);
        var traffic = Traffic().Match(text);
        var time = TimeForRequest().Match(text);
        if (!finished.Success || !requests.Success || !codes.Success || !traffic.Success)
        {
            throw new FormatException("h2load output not understood:\n" + text);
        }

        long L(Match m, int group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        return new Output(
            Duration(finished.Groups[1].Value, finished.Groups[2].Value),
            double.Parse(finished.Groups[3].Value, CultureInfo.InvariantCulture),
            L(requests, 1), L(requests, 2), L(requests, 3), L(requests, 4), L(requests, 5), L(requests, 6), L(requests, 7),
            L(codes, 1),
            L(codes, 2) + L(codes, 3) + L(codes, 4),
            L(traffic, 1),
            time.Success ? Duration(time.Groups[1].Value, time.Groups[2].Value) * 1000 : 0,
            time.Success ? Duration(time.Groups[3].Value, time.Groups[4].Value) * 1000 : 0,
            time.Success ? Duration(time.Groups[5].Value, time.Groups[6].Value) * 1000 : 0);
    }

    /// <summary>h2load's own output as a RunResult (mode "h2load"), so the report keeps every run in one list.</summary>
    public static RunResult ToRunResult(string scenario, string target, Output o, H2LoadSettings settings) => new()
    {
        Scenario = scenario,
        Target = target,
        Mode = "h2load",
        AchievedRate = o.RequestsPerSecond,
        DurationSeconds = o.Seconds,
        Sent = o.Started,
        Answered = o.Done,
        Expected = o.Succeeded,
        Errors = o.Failed + o.Errored + o.Timeout,
        Unanswered = Math.Max(0, o.Started - o.Done),
        // h2load reports no percentiles; only its mean and max are carried, the rest stays 0 (see the note).
        Latency = new LatencySummary(0, 0, 0, 0, o.MaxMs, o.MeanMs),
        Notes =
        {
            ["role"] = "max-throughput",
            ["h2load"] = $"-c {settings.Clients} -m {settings.Streams} -D {Seconds(settings.Duration)} --warm-up-time {Seconds(settings.Warmup)}",
            ["latency"] = "h2load gives min/mean/max per request, no percentiles",
            ["data_bytes"] = o.DataBytes.ToString(CultureInfo.InvariantCulture),
            ["status_2xx"] = o.Status2xx.ToString(CultureInfo.InvariantCulture),
        },
    };

    // h2load reads "500ms" as well as "2s".
    private static string Seconds(TimeSpan t) => Math.Max(100, (int)Math.Round(t.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";

    private static double Duration(string value, string unit)
    {
        var v = double.Parse(value, CultureInfo.InvariantCulture);
        return unit switch
        {
            "us" => v / 1_000_000,
            "ms" => v / 1000,
            "s" => v,
            "m" or "min" => v * 60,
            _ => throw new FormatException($"h2load time unit '{unit}'"),
        };
    }

    [GeneratedRegex(@"finished in ([\d.]+)(us|ms|s|m|min), ([\d.]+) req/s")]
    private static partial Regex Finished();

    [GeneratedRegex(@"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout")]
    private static partial Regex Requests();

    [GeneratedRegex(@"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")]
    private static partial Regex Codes();

    // "traffic: 3.51MB (3680000) total, 1.20MB (...) headers (space savings ..), 2.00MB (2093804) data"
    [GeneratedRegex(@"traffic:.*?\((\d+)\) data")]
    private static partial Regex Traffic();

    [GeneratedRegex(@"time for request:\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)\s+([\d.]+)(us|ms|s)")]
    private static partial Regex TimeForRequest();
}

public sealed record H2LoadSettings(int Clients, int Streams, TimeSpan Duration, TimeSpan Warmup);
