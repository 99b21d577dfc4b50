using Sidecars.Authorization.Config;
using Sidecars.RateLimiting;

namespace Sidecars.Config;

/// <summary>
/// Everything compiled from one consistent read of the config directory. Immutable: a reload builds a
/// new snapshot and publishes it with one reference swap, so a request sees one config from start to end.
/// </summary>
public sealed class ConfigSnapshot
{
    public ConfigSnapshot(RateLimitConfig rateLimits, IReadOnlyList<string> files, string fingerprint, long generation = 0, AuthPolicy? auth = null)
    {
        RateLimits = rateLimits;
        Auth = auth ?? AuthPolicy.Empty;
        Files = files;
        Fingerprint = fingerprint;
        Generation = generation;
    }

    public static ConfigSnapshot Empty { get; } = new(RateLimitConfig.Empty, [], string.Empty);

    public RateLimitConfig RateLimits { get; }

    /// <summary>Providers and routes for ext_authz; empty when no authorization file is present.</summary>
    public AuthPolicy Auth { get; }

    public IReadOnlyList<string> Files { get; }

    /// <summary>A hash of every file's path and content: a reload whose inputs did not change is skipped.</summary>
    public string Fingerprint { get; }

    /// <summary>1 for the first config loaded, then one more for each reload that was applied.</summary>
    public long Generation { get; }

    /// <summary>The key files its config files named (the naming file, the path as written), read again to tell an unchanged directory.</summary>
    public IReadOnlyList<(string ConfigFile, string Path)> KeyFiles { get; init; } = [];

    /// <summary>The files as compiled (for an owner file rejected alone, its last good version): what a later reload falls back to.</summary>
    public IReadOnlyList<ConfigSource> Sources { get; init; } = [];

    public ConfigSnapshot WithGeneration(long generation) => new(RateLimits, Files, Fingerprint, generation, Auth) { KeyFiles = KeyFiles, Sources = Sources };
}
