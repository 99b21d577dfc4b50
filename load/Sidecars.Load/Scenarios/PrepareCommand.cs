namespace Sidecars.Load.Scenarios;

internal static class PrepareCommand
{
    public static int Run(string[] args) => throw new NotImplementedException();
}
