using System.Globalization;
using Sidecars.Load.Model;

namespace Sidecars.Load.Compare;

/// <summary>What a compare run does: which scenarios, how long each part runs. Three profiles: ci, quick, full.</summary>
public sealed record CompareOptions
{
    public string Profile { get; init; } = "full";
    public bool Jit { get; init; }
    public string Out { get; init; } = "artifacts/load";
    public string? Sidecars { get; init; }
    public string? SidecarsJit { get; init; }
    public string? Floor { get; init; }
    public string Budgets { get; init; } = "load/budgets.yaml";
    public string? Config { get; init; }

    /// <summary>--pin on|off: the load on the first CPU, the servers on the others (<see cref="CpuPlacement"/>); on unless told.</summary>
    public bool Pin { get; init; } = true;

    /// <summary>CI measures nothing it judges and runs inside the test process: it never pins.</summary>
    public bool PinCpus => Pin && Profile != "ci";

    /// <summary>--client grpc|h2: the generator's transport for every run (the raw HTTP/2 client unless told).</summary>
    public ClientKind Client { get; init; } = ClientKind.H2;

    /// <summary>--scenarios a,b: run only these (to reproduce one figure); else the profile's list.</summary>
    public IReadOnlyList<string>? Only { get; init; }

    public IReadOnlyList<string> Scenarios => Only ?? Profile switch
    {
        "ci" => ["check-cached"],
        "quick" => ["check-cached", "check+limit", "rls-memory-1", "rls-memory-3"],
        _ => ["check-cached", "check+limit", "check-cold", "check-deny", "rls-memory-1", "rls-memory-3", "rls-redis-1", "rls-redis-3", "mixed"],
    };

    public H2LoadSettings H2Load => Profile switch
    {
        "ci" => new(1, 4, TimeSpan.FromSeconds(1), TimeSpan.Zero),
        "quick" => new(4, 32, TimeSpan.FromSeconds(0.5), TimeSpan.FromSeconds(0.1)),
        _ => new(4, 32, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(0.2)),
    };

    /// <summary>
    /// Rounds per scenario, each a floor and a sidecars run back to back; the verdict takes the median ratio. Many
    /// short rounds rather than a few long ones: this host's speed swings by a factor of two from one second to the
    /// next (the floor against itself, rounds of 1.5 s: 0.77 to 1.68), so a pair of runs is a noisy sample whatever
    /// its length, and only their number narrows the median. Floor against sidecars, fifteen rounds of 0.5 s twice in
    /// a row: medians 0.934 and 0.936, where five rounds of 1.5 s had given 0.87 to 1.03 from run to run.
    /// </summary>
    public int H2LoadRounds => Profile switch { "ci" => 1, "quick" => 15, _ => 20 };

    public TimeSpan OpenDuration => Profile switch { "ci" => TimeSpan.FromSeconds(2), "quick" => TimeSpan.FromSeconds(1.8), _ => TimeSpan.FromSeconds(3.5) };

    public TimeSpan OpenWarmup => Profile switch { "ci" => TimeSpan.FromSeconds(0.5), "quick" => TimeSpan.FromSeconds(0.4), _ => TimeSpan.FromSeconds(0.5) };

    /// <summary>
    /// Open-loop rounds per scenario and target, alternating; each target is judged on its median round. Five, not
    /// three: one host stall in a round makes its p99 (a sidecar's three rounds at 16,000/s: 0.99, 2.43 and 32.4 ms,
    /// the floor's 1.42 to 1.73), and the median of three is lost to two such rounds where that of five is not.
    /// </summary>
    public int OpenRounds => Profile switch { "ci" => 1, _ => 5 };

    /// <summary>The unmeasured closed-loop pass that puts every user's token in the cache before check-cached is timed.</summary>
    public TimeSpan PrimeDuration => Profile switch { "ci" => TimeSpan.FromSeconds(1), _ => TimeSpan.FromSeconds(5) };

    /// <summary>CI measures nothing it could judge: a low fixed rate, no cap search.</summary>
    public double? FixedRate => Profile == "ci" ? 200 : null;

    public TimeSpan CapStep => Profile == "quick" ? TimeSpan.FromSeconds(2) : TimeSpan.FromSeconds(3);

    /// <summary>Full mode runs the memory budget's own check-cached load; quick and ci judge RSS after their short load.</summary>
    public bool MemoryLoad => Profile == "full";

    public int StartupSamples(int budgetSamples) => Profile == "ci" ? 1 : budgetSamples;

    public static CompareOptions Parse(string[] args)
    {
        var options = new CompareOptions();
        for (var i = 0; i < args.Length; i++)
        {
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"compare: {args[i]} needs a value");
            options = args[i] switch
            {
                "--quick" => options with { Profile = "quick" },
                "--ci" => options with { Profile = "ci" },
                "--jit" => options with { Jit = true },
                "--out" => options with { Out = Value() },
                "--sidecars" => options with { Sidecars = Value() },
                "--sidecars-jit" => options with { SidecarsJit = Value() },
                "--floor" => options with { Floor = Value() },
                "--budgets" => options with { Budgets = Value() },
                "--config" => options with { Config = Value() },
                "--client" => options with { Client = Value() switch { "h2" => ClientKind.H2, "grpc" => ClientKind.Grpc, var c => throw new ArgumentException($"compare: --client '{c}' is neither h2 nor grpc") } },
                "--pin" => options with { Pin = Value() switch { "on" => true, "off" => false, var v => throw new ArgumentException($"compare: --pin '{v}' is neither on nor off") } },
                "--scenarios" => options with { Only = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                _ => throw new ArgumentException(string.Create(CultureInfo.InvariantCulture, $"compare: unknown option '{args[i]}'")),
            };
        }

        return options;
    }
}
