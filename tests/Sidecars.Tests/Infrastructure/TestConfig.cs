using Sidecars.Config;

namespace Sidecars.Tests.Infrastructure;

internal static class TestConfig
{
    /// <summary>A config state with one YAML file published, failing the test on any config error.</summary>
    public static ConfigState State(string yaml)
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile([new ConfigSource("test.yaml", yaml)], diagnostics);
        Assert.True(snapshot is not null, string.Join("\n", diagnostics.Errors));
        var state = new ConfigState();
        state.Publish(snapshot!);
        return state;
    }
}
