namespace Sidecars.Config;

/// <summary>The text of one config file and the path its errors are reported under.</summary>
public sealed record ConfigSource(string Path, string Text);
