using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Generator;

/// <summary>Runs one <see cref="RunSpec"/>: the in-process entry point of <c>sidecars-load run</c> and of <c>compare</c>.</summary>
public static class LoadRunner
{
    public static Task<RunResult> RunAsync(RunSpec spec, PreparedConfig config, CancellationToken ct) => throw new NotImplementedException();
}
