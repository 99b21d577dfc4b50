namespace Sidecars.Config;

/// <summary>One problem found in a config file, located to the line and column of the offending node.</summary>
public sealed record ConfigError(string File, int Line, int Column, string Message)
{
    /// <summary>Formats as <c>path/file.yaml:12:5: message</c>, the form editors and CI logs link to.</summary>
    public override string ToString() => $"{File}:{Line}:{Column}: {Message}";
}

/// <summary>Thrown when a config cannot be loaded; carries every error found, not just the first.</summary>
public sealed class ConfigException(IReadOnlyList<ConfigError> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public IReadOnlyList<ConfigError> Errors { get; } = errors;
}
