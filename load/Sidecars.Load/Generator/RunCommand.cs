using System.Globalization;
using System.Text.Json;
using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Generator;

/// <summary><c>sidecars-load run ...</c>: one run, a one-line summary on stdout, the RunResult as JSON with --out.</summary>
internal static class RunCommand
{
    public static async Task<int> RunAsync(string[] args)
    {
        RunSpec spec;
        string config;
        string? output;
        try
        {
            (spec, config, output) = Parse(args);
        }
        catch (FormatException e)
        {
            Console.Error.WriteLine("sidecars-load run: " + e.Message);
            return 2;
        }

        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        RunResult result;
        try
        {
            result = await LoadRunner.RunAsync(spec, PreparedConfig.Load(config), cancel.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            Console.Error.WriteLine("sidecars-load run: " + e.Message);
            return 2;
        }

        Console.Out.WriteLine(Summary(result));
        if (output is not null)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
            File.WriteAllText(output, JsonSerializer.Serialize(result, LoadJsonContext.Default.RunResult));
        }

        return 0;
    }

    public static string Summary(RunResult r) =>
        string.Create(CultureInfo.InvariantCulture, $"{r.Scenario} {r.Target} {r.Mode}: offered {r.OfferedRate:0}/s achieved {r.AchievedRate:0}/s ") +
        string.Create(CultureInfo.InvariantCulture, $"sent {r.Sent} answered {r.Answered} expected {r.Expected} unexpected {r.Unexpected} errors {r.Errors} unanswered {r.Unanswered} ") +
        string.Create(CultureInfo.InvariantCulture, $"p50 {r.Latency.P50:0.###} p99 {r.Latency.P99:0.###} p99.9 {r.Latency.P999:0.###} max {r.Latency.Max:0.###} ms") +
        (r.Slip is { } s ? string.Create(CultureInfo.InvariantCulture, $" slip p99 {s.P99Milliseconds:0.###} ms{(s.FellBehind ? " FELL BEHIND" : "")}") : "");

    private static (RunSpec Spec, string Config, string? Output) Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length)
            {
                throw new FormatException($"expected '--name value', got '{args[i]}'");
            }

            values[args[i][2..]] = args[++i];
        }

        string Get(string name, string? fallback = null) =>
            values.Remove(name, out var v) ? v : fallback ?? throw new FormatException($"--{name} is required");

        var scenario = Get("scenario");
        var endpoint = Get("endpoint");
        var config = Get("config");
        var spec = new RunSpec(
            scenario,
            Get("target", "sidecars"),
            endpoint,
            Get("mode", "open") switch
            {
                "open" => LoopMode.Open,
                "closed" => LoopMode.Closed,
                var m => throw new FormatException($"--mode '{m}' is neither open nor closed"),
            },
            Number(Get("rate", "1000"), "rate"),
            Duration(Get("duration", "10s"), "duration"),
            Duration(Get("warmup", "2s"), "warmup"),
            (int)Number(Get("connections", "4"), "connections"),
            (int)Number(Get("concurrency", "64"), "concurrency"),
            Client(Get("client", "h2")));
        var output = values.Remove("out", out var o) ? o : null;
        if (values.Count > 0)
        {
            throw new FormatException($"unknown option --{values.Keys.First()}");
        }

        return (spec, config, output);
    }

    /// <summary>--client h2 (the raw HTTP/2 transport, default) or grpc (Grpc.Net.Client).</summary>
    internal static ClientKind Client(string text) => text switch
    {
        "h2" => ClientKind.H2,
        "grpc" => ClientKind.Grpc,
        _ => throw new FormatException($"--client '{text}' is neither h2 nor grpc"),
    };

    private static double Number(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"--{name} '{text}' is not a number");

    /// <summary>500ms, 10s, 2m, or plain seconds.</summary>
    internal static TimeSpan Duration(string text, string name)
    {
        var (number, scale) = text switch
        {
            _ when text.EndsWith("ms", StringComparison.Ordinal) => (text[..^2], 0.001),
            _ when text.EndsWith('s') => (text[..^1], 1.0),
            _ when text.EndsWith('m') => (text[..^1], 60.0),
            _ => (text, 1.0),
        };
        return double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= 0
            ? TimeSpan.FromSeconds(v * scale)
            : throw new FormatException($"--{name} '{text}' is not a duration (500ms, 10s, 2m)");
    }
}
