using System.Text.RegularExpressions;

namespace Sidecars.Config;

/// <summary>What a reload compiled: the snapshot (null when rejected), and the owner files rejected alone with their errors.</summary>
public sealed record IsolatedCompile(ConfigSnapshot? Snapshot, IReadOnlyList<ConfigError> Errors, IReadOnlyList<string> RejectedFiles)
{
    public bool Rejected => Snapshot is null;
}

/// <summary>
/// Isolation between owners (issue 9): a service file with errors is rejected alone — its last good version (or, for
/// a file never good, nothing) is compiled in its place — so one owner's mistake never blocks another owner's
/// change. A platform file (providers, shared routes, rate limit domains) or a directory-level error still rejects
/// the whole reload: those are shared by every owner, and a half-applied platform change is worse than none.
/// </summary>
public static partial class ConfigIsolation
{
    private const int MaxRounds = 3;

    public static IsolatedCompile Compile(IReadOnlyList<ConfigSource> sources, IReadOnlyList<ConfigSource> lastGood)
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile(sources, diagnostics);
        if (snapshot is not null)
        {
            return new IsolatedCompile(snapshot, [], []);
        }

        var good = lastGood.ToDictionary(s => s.Path, StringComparer.Ordinal);
        var isolated = new List<ConfigError>();
        var rejected = new HashSet<string>(StringComparer.Ordinal);
        var current = sources;
        for (var round = 0; round < MaxRounds; round++)
        {
            var errors = diagnostics.Errors;
            var files = errors.Select(e => e.File).Distinct(StringComparer.Ordinal).ToList();
            if (files.Any(f => !IsOwnerFile(f, current, good)))
            {
                // A platform error: the whole reload is rejected with every error, as before isolation.
                return new IsolatedCompile(null, [.. isolated, .. errors], []);
            }

            isolated.AddRange(errors.Where(e => !rejected.Contains(e.File)));
            rejected.UnionWith(files);
            current = [.. current.Select(s => rejected.Contains(s.Path) ? good.GetValueOrDefault(s.Path) : s).OfType<ConfigSource>()];
            diagnostics = new ConfigDiagnostics();
            snapshot = ConfigLoader.Compile(current, diagnostics);
            if (snapshot is not null)
            {
                return new IsolatedCompile(snapshot, isolated, [.. rejected.Order(StringComparer.Ordinal)]);
            }
        }

        return new IsolatedCompile(null, [.. isolated, .. diagnostics.Errors], []);
    }

    /// <summary>A service file now, or in its last good version: its text starts a line with <c>service:</c> (read even when the YAML does not parse).</summary>
    private static bool IsOwnerFile(string path, IReadOnlyList<ConfigSource> current, Dictionary<string, ConfigSource> good) =>
        (good.TryGetValue(path, out var last) && ServiceKey().IsMatch(last.Text)) ||
        current.FirstOrDefault(s => string.Equals(s.Path, path, StringComparison.Ordinal)) is { } now && ServiceKey().IsMatch(now.Text);

    [GeneratedRegex(@"^service\s*:", RegexOptions.Multiline | RegexOptions.CultureInvariant)]
    private static partial Regex ServiceKey();
}
