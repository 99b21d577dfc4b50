using Sidecars.Config;

namespace Sidecars.Server.Config;

/// <summary>The first config as read at start-up, before anything is published: a snapshot, or the errors that stop the process.</summary>
/// <param name="Directory">The config directory; null or empty for the embedded example.</param>
/// <param name="Snapshot">The compiled config; null when <paramref name="Errors"/> has any.</param>
/// <param name="Errors">Every error found, each located.</param>
/// <param name="EmptyDirectory">The directory held no config files (served as an empty config, and logged).</param>
public sealed record InitialConfig(string? Directory, ConfigSnapshot? Snapshot, IReadOnlyList<ConfigError> Errors, bool EmptyDirectory);
