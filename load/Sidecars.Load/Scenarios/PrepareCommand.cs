using System.Diagnostics;

namespace Sidecars.Load.Scenarios;

/// <summary><c>sidecars-load prepare --out DIR</c>.</summary>
internal static class PrepareCommand
{
    public static int Run(string[] args)
    {
        if (args is not ["--out", var dir])
        {
            Console.Error.WriteLine("usage: sidecars-load prepare --out DIR");
            return 2;
        }

        var watch = Stopwatch.StartNew();
        var config = PreparedConfig.Prepare(dir);
        Console.Out.WriteLine($"prepared {config.Directory}: {PreparedConfig.Users} user tokens, {PreparedConfig.ColdTokens} cold tokens, h2load bodies; {watch.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }
}
