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

    /// <summary>A config state compiled from several files (name, text), failing the test on any config error.</summary>
    public static ConfigState State(params (string Name, string Yaml)[] files)
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile([.. files.Select(f => new ConfigSource(f.Name, f.Yaml))], diagnostics);
        Assert.True(snapshot is not null, string.Join("\n", diagnostics.Errors));
        var state = new ConfigState();
        state.Publish(snapshot!);
        return state;
    }

    /// <summary>The errors of compiling these files, each as <c>file:line:col: message</c>.</summary>
    public static string[] Errors(params (string Name, string Yaml)[] files)
    {
        var diagnostics = new ConfigDiagnostics();
        ConfigLoader.Compile([.. files.Select(f => new ConfigSource(f.Name, f.Yaml))], diagnostics);
        return [.. diagnostics.Errors.Select(e => e.ToString())];
    }
}
