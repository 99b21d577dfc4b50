using YamlDotNet.RepresentationModel;

namespace Sidecars.Config;

/// <summary>
/// Collects every error of one load so a user fixes them all in one pass. Bounded: at most
/// <see cref="ConfigLimits.MaxErrors"/> are kept (then one line counts the rest), each message is one line.
/// </summary>
public sealed class ConfigDiagnostics
{
    private readonly List<ConfigError> _errors = [];
    private ConfigError? _firstDropped;
    private int _dropped;

    /// <summary>Every error, ordered by file, line and column (a stable sort: same-place errors keep their order).</summary>
    public IReadOnlyList<ConfigError> Errors
    {
        get
        {
            var sorted = _errors.OrderBy(e => e.File, StringComparer.Ordinal).ThenBy(e => e.Line).ThenBy(e => e.Column).ToList();
            if (_firstDropped is { } first)
            {
                sorted.Add(first with { Message = $"{_dropped} more errors not shown (at most {ConfigLimits.MaxErrors} are reported)" });
            }

            return sorted;
        }
    }

    public bool HasErrors => _errors.Count > 0;

    public void Add(string file, YamlNode? node, string message)
    {
        var line = node is null ? 1 : (int)node.Start.Line;
        var column = node is null ? 1 : (int)node.Start.Column;
        Add(file, line, column, message);
    }

    public void Add(string file, int line, int column, string message)
    {
        var error = new ConfigError(ConfigText.OneLine(file), Math.Max(line, 1), Math.Max(column, 1), ConfigText.OneLine(message));
        if (_errors.Count < ConfigLimits.MaxErrors)
        {
            _errors.Add(error);
            return;
        }

        _firstDropped ??= error;
        _dropped++;
    }
}
