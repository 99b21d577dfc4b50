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
    "-h" or "--help" or "help" => Usage(0),
    _ => Usage(),
};

static int Usage(int code = 2)
{
    (code == 0 ? Console.Out : Console.Error).WriteLine("""
        usage:
          sidecars-load prepare --out DIR
          sidecars-load run --scenario S --endpoint http://127.0.0.1:P|unix:/x.sock --config DIR [--target LABEL]
                            [--mode open|closed] [--rate R] [--duration 10s] [--warmup 2s] [--connections 4]
                            [--concurrency 64] [--out FILE.json]
          sidecars-load compare [--quick|--ci] [--jit] [--scenarios a,b] [--config DIR] [--out artifacts/load] [--sidecars PATH] [--sidecars-jit PATH.dll] [--floor PATH]
          sidecars-load report [--in artifacts/load]
          sidecars-load soak [--minutes 10] [--rate R] [--scenario check-cached] [--sidecars PATH] [--out artifacts/load]
        scenarios: check-cached check-cold check-deny rls-memory-1 rls-memory-3 rls-redis-1 rls-redis-3 mixed
        """);
    return code;
}
