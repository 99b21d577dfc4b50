using Sidecars.Load.Generator;
using Sidecars.Load.Scenarios;

// One tool, a command per folder: prepare and run (Scenarios/, Generator/), compare, report and soak (Compare/, Report/).
return args.Length == 0 ? Usage() : args[0] switch
{
    "prepare" => PrepareCommand.Run(args[1..]),
    "run" => await RunCommand.RunAsync(args[1..]).ConfigureAwait(false),
    "compare" => await Sidecars.Load.Compare.CompareCommand.RunAsync(args[1..]).ConfigureAwait(false),
    "report" => Sidecars.Load.Report.ReportCommand.Run(args[1..]),
    "soak" => await Sidecars.Load.Compare.SoakCommand.RunAsync(args[1..]).ConfigureAwait(false),
    "probe" when args is [_, "--scenario", var s, "--endpoint", var e, "--config", var c] => await ProbeAsync(s, e, c).ConfigureAwait(false),
    "-h" or "--help" or "help" => Usage(0),
    _ => Usage(),
};

static async Task<int> ProbeAsync(string scenario, string endpoint, string config)
{
    Console.Out.WriteLine(await H2LoadProbe.ResponseFrameBytesAsync(endpoint, PreparedConfig.Load(config), scenario, CancellationToken.None).ConfigureAwait(false));
    return 0;
}

static int Usage(int code = 2)
{
    (code == 0 ? Console.Out : Console.Error).WriteLine("""
        usage:
          sidecars-load prepare --out DIR
          sidecars-load run --scenario S --endpoint http://127.0.0.1:P|unix:/x.sock --config DIR [--target LABEL]
                            [--mode open|closed] [--rate R] [--duration 10s] [--warmup 2s] [--connections 4]
                            [--concurrency 64] [--client h2|grpc] [--out FILE.json]
          sidecars-load compare [--quick|--ci] [--jit] [--scenarios a,b] [--config DIR] [--client h2|grpc] [--out artifacts/load] [--sidecars PATH] [--sidecars-jit PATH.dll] [--floor PATH]
          sidecars-load report [--in artifacts/load]
          sidecars-load soak [--minutes 10] [--rate R] [--scenario check-cached] [--sidecars PATH] [--out artifacts/load] [--config DIR]
          sidecars-load probe --scenario S --endpoint E --config DIR   (the answer's frame size for the h2load body)
        scenarios: check-cached check+limit check-cold check-deny rls-memory-1 rls-memory-3 rls-redis-1 rls-redis-3 mixed
        """);
    return code;
}
