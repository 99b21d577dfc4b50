namespace Sidecars.Config;

/// <summary>
/// What one config may cost (issue 7, finding 10). A config push comes from outside the process, so every
/// dimension a YAML file can grow in is bounded before it is read into memory: bytes, files, nesting,
/// alias expansion, nodes, and the limits, providers and routes compiled from them. The figures are in
/// docs/CONFIG.md ("Bounds of a config").
/// </summary>
public static class ConfigLimits
{
    /// <summary>Largest config file (and <c>local_jwks</c> file) read, in bytes.</summary>
    public const int MaxFileBytes = 1024 * 1024;

    /// <summary>
    /// Largest sum of the config files of one snapshot. Loading costs about 70 bytes of memory per byte of YAML
    /// (measured: a 1 MiB file of 15,582 limits peaks at 120 MB RSS in <c>validate</c>), so 4 MiB stays near 300 MB.
    /// </summary>
    public const long MaxTotalBytes = 4 * 1024 * 1024;

    /// <summary>Most <c>*.yaml</c>/<c>*.yml</c> files in the directory.</summary>
    public const int MaxFiles = 1000;

    /// <summary>Deepest nesting of mappings and sequences, counted through aliases; the parsers recurse this deep at most.</summary>
    public const int MaxDepth = 64;

    /// <summary>Longest single scalar (a key or value), in characters; larger JWKS go in a <c>local_jwks</c> file.</summary>
    public const int MaxScalarLength = 64 * 1024;

    /// <summary>Most nodes of one file once every alias is expanded: bounds alias bombs ("billion laughs").</summary>
    public const long MaxNodesPerFile = 1_000_000;

    /// <summary>Most nodes of all files together, aliases expanded (about 100 bytes each once compiled).</summary>
    public const long MaxNodesPerSnapshot = 2_000_000;

    /// <summary>Most rate limits (each entry of <c>rate_limit</c>/<c>rate_limits</c>) in one snapshot.</summary>
    public const int MaxLimits = 200_000;

    /// <summary>Most authorization providers in one snapshot (each remote one runs a JWKS fetcher).</summary>
    public const int MaxProviders = 256;

    /// <summary>Most authorization routes in one snapshot (a request is matched against them in order).</summary>
    public const int MaxRoutes = 10_000;

    /// <summary>Routes of all service files together (1,000 services of 20 routes fit five times over).</summary>
    public const int MaxServiceRoutes = 100_000;

    /// <summary>Longest <c>path_regex</c>, in characters.</summary>
    public const int MaxPathRegexLength = 1024;

    /// <summary>Errors kept per load; the rest are counted in one last line, so a hostile file cannot flood the log.</summary>
    public const int MaxErrors = 100;

    /// <summary>Longest duration accepted anywhere (<c>87600h</c>, ten years).</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(87600);
}
