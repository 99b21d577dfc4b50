using YamlDotNet.RepresentationModel;

namespace Sidecars.Config;

/// <summary>Collects every error of one load so a user fixes them all in one pass.</summary>
public sealed class ConfigDiagnostics
{
    private readonly List<ConfigError> _errors = [];

    /// <summary>Every error, ordered by file, line and column (a stable sort: same-place errors keep their order).</summary>
    public IReadOnlyList<ConfigError> Errors =>
        [.. _errors.OrderBy(e => e.File, StringComparer.Ordinal).ThenBy(e => e.Line).ThenBy(e => e.Column)];

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
