namespace Sidecars.Config;

/// <summary>
/// Holds the active snapshot. Readers take <see cref="Current"/> once per request; a reload publishes a
/// new snapshot with one atomic write, or records its errors and keeps the last good one.
/// </summary>
public sealed class ConfigState
{
    private readonly Lock _publishing = new();
    private ConfigSnapshot _current = ConfigSnapshot.Empty;
    private IReadOnlyList<ConfigError> _lastErrors = [];
    private long _failedReloads;
    private long _generation;

    public ConfigSnapshot Current => Volatile.Read(ref _current);

    /// <summary>
    /// Raised before a snapshot becomes <see cref="Current"/>, on the publishing thread: runtime state the
    /// snapshot needs (its providers' JWKS keys) is attached here, so the first request that sees the snapshot
    /// finds it ready — attaching after the swap let requests meet a provider without keys (issue 7, finding 6).
    /// A handler must not throw.
    /// </summary>
    public event Action<ConfigSnapshot>? Publishing;

    /// <summary>Raised after a snapshot is published, on the publishing thread (e.g. to stop what the old one used).</summary>
    public event Action<ConfigSnapshot>? Published;

    public bool IsLoaded => Current.Generation > 0;

    public IReadOnlyList<ConfigError> LastErrors => Volatile.Read(ref _lastErrors);

    public long FailedReloads => Interlocked.Read(ref _failedReloads);

    private IReadOnlyList<FileStatus> _files = [];

    /// <summary>Each file of the directory: the generation its active version came in, that version's checksum, its last error.</summary>
    public IReadOnlyList<FileStatus> FileStatuses => Volatile.Read(ref _files);

    public void SetFileStatuses(IReadOnlyList<FileStatus> files) => Volatile.Write(ref _files, files);

    /// <summary>When the active generation was published (as the file status tracker saw it); null before the first.</summary>
    public DateTimeOffset? ActiveSince { get; set; }

    /// <summary>Publishes <paramref name="snapshot"/> as the next generation and clears the last error.</summary>
    public ConfigSnapshot Publish(ConfigSnapshot snapshot)
    {
        // One publish at a time (a reload thread and a direct Reload() may race): otherwise the keys prepared for
        // one snapshot could be attached, and the other one made current.
        lock (_publishing)
        {
            var next = snapshot.WithGeneration(Interlocked.Increment(ref _generation));
            Publishing?.Invoke(next);
            Volatile.Write(ref _current, next);
            Volatile.Write(ref _lastErrors, []);
            Published?.Invoke(next);
            return next;
        }
    }

    /// <summary>Forgets the last error once the directory is back to the active config.</summary>
    public void ClearErrors() => Volatile.Write(ref _lastErrors, []);

    /// <summary>Records the errors of owner files rejected alone by a reload that was otherwise applied (or changed nothing else).</summary>
    public void RecordIsolated(IReadOnlyList<ConfigError> errors)
    {
        Volatile.Write(ref _lastErrors, errors);
        Interlocked.Increment(ref _failedReloads);
    }

    /// <summary>Records a rejected reload; the active snapshot is untouched.</summary>
    public void Reject(IReadOnlyList<ConfigError> errors)
    {
        Volatile.Write(ref _lastErrors, errors);
        Interlocked.Increment(ref _failedReloads);
    }
}

/// <summary>
/// One config file as <c>/readyz</c> shows it: the generation in which its active version became active, that
/// version's checksum (null when no version of it is active: a new file rejected alone), and why its latest
/// version was rejected, if it was.
/// </summary>
/// <summary>
/// One config file as <c>/readyz</c> and <c>/config</c> show it: the generation its active version came in with, that
/// version's checksum (of the text) and when it was loaded (both null for a file never loaded), and the last error of
/// its latest version.
/// </summary>
public sealed record FileStatus(string File, long Generation, string? Checksum, string? LastError, DateTimeOffset? LoadedAt = null);
