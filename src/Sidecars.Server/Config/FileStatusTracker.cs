using Sidecars.Config;

namespace Sidecars.Server.Config;

/// <summary>
/// What <c>/readyz</c> and <c>/config</c> show per config file (issues 9 and 10): the generation each file's active
/// version came in with, when it was loaded, that version's checksum, and the last error of its latest version.
/// Recomputed after each reload.
/// </summary>
internal sealed class FileStatusTracker(ConfigState state, TimeProvider time)
{
    // Per file: the checksum of its active version, the generation that version came in with, and when.
    private readonly Dictionary<string, (string Checksum, long Generation, DateTimeOffset LoadedAt)> _activeVersions = new(StringComparer.Ordinal);
    private readonly Lock _filesLock = new();
    private long _seenGeneration;

    /// <summary>Recomputes the per-file status after a reload: every active file, and every file with an error.</summary>
    public void Update(ConfigSnapshot active, IReadOnlyList<ConfigError> errors)
    {
        lock (_filesLock)
        {
            var now = time.GetUtcNow();
            if (active.Generation != _seenGeneration)
            {
                _seenGeneration = active.Generation;
                state.ActiveSince = now;
            }

            var statuses = new List<FileStatus>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var source in active.Sources)
            {
                var checksum = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(source.Text)))[..16];
                if (!_activeVersions.TryGetValue(source.Path, out var version) || version.Checksum != checksum)
                {
                    version = (checksum, active.Generation, now);
                    _activeVersions[source.Path] = version;
                }

                seen.Add(source.Path);
                statuses.Add(new FileStatus(source.Path, version.Generation, version.Checksum, errors.FirstOrDefault(e => e.File == source.Path)?.ToString(), version.LoadedAt));
            }

            foreach (var path in _activeVersions.Keys.Where(p => !seen.Contains(p)).ToList())
            {
                _activeVersions.Remove(path);
            }

            foreach (var file in errors.Select(e => e.File).Distinct(StringComparer.Ordinal).Where(f => !seen.Contains(f)))
            {
                statuses.Add(new FileStatus(file, 0, null, errors.First(e => e.File == file).ToString()));
            }

            state.SetFileStatuses([.. statuses.OrderBy(f => f.File, StringComparer.Ordinal)]);
        }
    }
}
