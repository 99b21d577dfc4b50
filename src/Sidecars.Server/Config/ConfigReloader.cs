using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sidecars.Config;
using Sidecars.Server.Hosting;

namespace Sidecars.Server.Config;

/// <summary>
/// Loads the config at start and keeps it current: file events (writes, renames, the symlink swap of a
/// Kubernetes ConfigMap) trigger a debounced reload, and a slow poll catches any event that was missed.
/// A reload whose files did not change is skipped; an invalid one is logged and counted, the last good
/// snapshot staying active.
/// </summary>
public sealed class ConfigReloader(ConfigState state, IOptions<SidecarsOptions> options, ILogger<ConfigReloader> logger, TimeProvider time) : BackgroundService
{
    private readonly SemaphoreSlim _changed = new(0, 1);
    private readonly FileStatusTracker _files = new(state, time);
    private volatile bool _watcherFailed;
    private bool _watcherFailureLogged;
    private long _compiles;

    /// <summary>Reloads that compiled the directory (an unchanged one is not compiled again).</summary>
    public long Compiles => Interlocked.Read(ref _compiles);

    /// <summary>Loads the first config; a bad one stops the process with every error found, each located.</summary>
    public void LoadInitial() => LoadInitial(ReadInitial(options.Value.Config));

    /// <summary>
    /// Publishes a first config read by <see cref="ReadInitial"/>, which start-up runs on another thread while the
    /// host is built (the two are independent; on a sidecar's two cores that shortens the time to the first answer).
    /// A bad one stops the process with every error found, each located.
    /// </summary>
    /// <exception cref="ConfigException">The config has errors; nothing was published.</exception>
    public void LoadInitial(InitialConfig initial)
    {
        ArgumentNullException.ThrowIfNull(initial);
        if (initial.EmptyDirectory)
        {
            ConfigLog.EmptyDirectory(logger, initial.Directory!);
        }

        if (initial.Snapshot is null || initial.Errors.Count > 0)
        {
            throw new ConfigException(initial.Errors);
        }

        Log(state.Publish(initial.Snapshot));
        _files.Update(state.Current, []);
    }

    /// <summary>Reads and compiles the first config (the directory, or the embedded example when it is empty). Never throws.</summary>
    public static InitialConfig ReadInitial(string? directory)
    {
        var diagnostics = new ConfigDiagnostics();
        ConfigSnapshot? snapshot;
        var empty = false;
        try
        {
            var sources = string.IsNullOrEmpty(directory) ? EmbeddedConfig.Read(diagnostics) : ConfigLoader.ReadDirectory(directory, diagnostics);
            empty = !string.IsNullOrEmpty(directory) && sources.Count == 0 && !diagnostics.HasErrors;
            snapshot = diagnostics.HasErrors ? null : ConfigLoader.Compile(sources, diagnostics);
        }
#pragma warning disable CA1031 // A start-up failure of any kind is reported as a config error, not a stack trace.
        catch (Exception e)
#pragma warning restore CA1031
        {
            diagnostics.Add(string.IsNullOrEmpty(directory) ? "embedded:" : directory, 1, 1, "config cannot be loaded: " + ConfigText.Describe(e));
            snapshot = null;
        }

        return new InitialConfig(directory, snapshot, diagnostics.Errors, empty);
    }

    /// <summary>
    /// Reads the directory again and publishes it if it changed and is valid. Returns whether a new generation was
    /// published. Never throws: whatever goes wrong is a rejected reload, and the last good snapshot keeps serving
    /// (issue 7, finding 10).
    /// </summary>
    public bool Reload()
    {
        var directory = options.Value.Config;
        if (string.IsNullOrEmpty(directory))
        {
            return false;
        }

        var diagnostics = new ConfigDiagnostics();
        IsolatedCompile? result = null;
        try
        {
            var sources = ConfigLoader.ReadDirectory(directory, diagnostics);
            if (sources.Count == 0 && !diagnostics.HasErrors && state.Current.Files.Count > 0 && !options.Value.AllowEmptyConfig)
            {
                // Finding 17: a non-atomic update (rm, then cp) passes through an empty directory; serving it drops every limit and route.
                diagnostics.Add(directory, 1, 1, $"config refused: the directory holds no config files (*.yaml, *.yml) any more; the last good config ({state.Current.Files.Count} files) keeps serving (set Sidecars:AllowEmptyConfig=true to allow an empty config)");
            }

            if (!diagnostics.HasErrors && ConfigLoader.SameInputs(sources, state.Current))
            {
                // Nothing changed since the active config was compiled: nothing to compile.
                if (state.LastErrors.Count > 0)
                {
                    state.ClearErrors();
                    _files.Update(state.Current, []);
                }

                return false;
            }

            if (!diagnostics.HasErrors)
            {
                Interlocked.Increment(ref _compiles);

                // A service file with errors is rejected alone: its last good version stays (issue 9, isolation between owners).
                result = ConfigIsolation.Compile(sources, state.Current.Sources);
            }
        }
#pragma warning disable CA1031 // The reload boundary: no exception may stop the host (BackgroundServiceExceptionStoppedHost).
        catch (Exception e)
#pragma warning restore CA1031
        {
            diagnostics.Add(directory, 1, 1, "config reload failed: " + ConfigText.Describe(e));
            result = null;
        }

        var errors = result?.Errors ?? diagnostics.Errors;
        var snapshot = result?.Snapshot;
        if (snapshot is null)
        {
            if (!SameErrors(errors))
            {
                foreach (var error in errors)
                {
                    ServerLog.ConfigRejected(logger, state.Current.Generation, error.ToString());
                }

                state.Reject(errors);
                _files.Update(state.Current, errors);
            }

            return false;
        }

        var isolated = result!.Errors;
        if (isolated.Count > 0 && !SameErrors(isolated))
        {
            foreach (var error in isolated)
            {
                ServerLog.FileRejected(logger, error.File, state.Current.Generation, error.ToString());
            }
        }

        if (snapshot.Fingerprint == state.Current.Fingerprint)
        {
            // Only rejected files changed (or the files are back to the active config): nothing new to publish.
            if (isolated.Count > 0)
            {
                if (!SameErrors(isolated))
                {
                    state.RecordIsolated(isolated);
                }
            }
            else if (state.LastErrors.Count > 0)
            {
                state.ClearErrors();
            }

            _files.Update(state.Current, isolated);
            return false;
        }

        Log(state.Publish(snapshot));
        if (isolated.Count > 0)
        {
            state.RecordIsolated(isolated);
        }

        _files.Update(state.Current, isolated);
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var directory = options.Value.Config;
        if (string.IsNullOrEmpty(directory))
        {
            return;
        }

        // Made before the first await, as the host starts, so no edit right after start-up waits for the poll.
        var watcher = StartWatcher(directory);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    // A watcher lost to an error (or never created: no inotify instance left) is made again at each poll.
                    watcher ??= StartWatcher(directory);
                    if (await _changed.WaitAsync(options.Value.ReloadPollInterval, stoppingToken).ConfigureAwait(false))
                    {
                        await Task.Delay(options.Value.ReloadDebounce, stoppingToken).ConfigureAwait(false);
                    }

                    Reload();
                    if (_watcherFailed)
                    {
                        _watcherFailed = false;
                        watcher?.Dispose();
                        watcher = null;
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
#pragma warning disable CA1031 // Issue 7, finding 11: the loop survives anything (EMFILE included) and retries at the next poll.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    ConfigLog.ReloadFailed(logger, state.Current.Generation, e);
                    watcher?.Dispose();
                    watcher = null;
                }
            }
        }
        finally
        {
            watcher?.Dispose();
        }
    }

    private FileSystemWatcher? StartWatcher(string directory)
    {
        try
        {
            var watcher = new FileSystemWatcher(directory)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            watcher.Changed += (_, _) => Signal();
            watcher.Created += (_, _) => Signal();
            watcher.Deleted += (_, _) => Signal();
            watcher.Renamed += (_, _) => Signal();
            watcher.Error += (_, e) =>
            {
                ServerLog.WatcherFailed(logger, e.GetException());
                _watcherFailed = true;
                Signal();
            };
            watcher.EnableRaisingEvents = true;
            _watcherFailureLogged = false;
            return watcher;
        }
#pragma warning disable CA1031 // Without a watcher the poll still reloads; the watcher is tried again at the next poll.
        catch (Exception e)
#pragma warning restore CA1031
        {
            // Tried again at every poll: logged once until a watcher works again.
            if (!_watcherFailureLogged)
            {
                _watcherFailureLogged = true;
                ServerLog.WatcherFailed(logger, e);
            }

            return null;
        }
    }

    private void Signal()
    {
        try
        {
            _changed.Release();
        }
        catch (SemaphoreFullException)
        {
            // A reload is already pending; it will read every change.
        }
    }

    private bool SameErrors(IReadOnlyList<ConfigError> errors) => state.LastErrors.SequenceEqual(errors);

    private void Log(ConfigSnapshot snapshot) =>
        ServerLog.ConfigLoaded(logger, snapshot.Generation, snapshot.RateLimits.Domains.Count, snapshot.RateLimits.LimitCount, snapshot.Files.Count, snapshot.Fingerprint);
}
