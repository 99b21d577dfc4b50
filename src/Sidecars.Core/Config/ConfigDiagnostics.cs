using YamlDotNet.RepresentationModel;

namespace Sidecars.Config;

/// <summary>Collects every error of one load so a user fixes them all in one pass.</summary>
public sealed class ConfigDiagnostics
{
    private readonly List<ConfigError> _errors = [];

    public IReadOnlyList<ConfigError> Errors => _errors;

    public bool HasErrors => _errors.Count > 0;

    public void Add(string file, YamlNode? node, string message)
    {
        var line = node is null ? 1 : (int)node.Start.Line;
        var column = node is null ? 1 : (int)node.Start.Column;
        _errors.Add(new ConfigError(file, line, column, message));
    }

    public void Add(string file, int line, int column, string message) =>
        _errors.Add(new ConfigError(file, line, column, message));
}
