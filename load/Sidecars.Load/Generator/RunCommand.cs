namespace Sidecars.Load.Generator;

internal static class RunCommand
{
    public static Task<int> RunAsync(string[] args) => throw new NotImplementedException();
}
