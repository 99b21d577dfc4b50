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
public sealed class ConfigReloader(ConfigState state, IOptions<SidecarsOptions> options, ILogger<ConfigReloader> logger) : BackgroundService
{
    private readonly SemaphoreSlim _changed = new(0, 1);

    /// <summary>Loads the first config; a bad one stops the process with every error found.</summary>
    public void LoadInitial()
    {
        var diagnostics = new ConfigDiagnostics();
        var directory = options.Value.Config;
        var sources = string.IsNullOrEmpty(directory) ? EmbeddedConfig.Read() : ConfigLoader.ReadDirectory(directory, diagnostics);
        var snapshot = ConfigLoader.Compile(sources, diagnostics);
        if (snapshot is null || diagnostics.HasErrors)
        {
            throw new ConfigException(diagnostics.Errors);
        }

        Log(state.Publish(snapshot));
    }

    /// <summary>Reads the directory again and publishes it if it changed and is valid. Returns whether a new generation was published.</summary>
    public bool Reload()
    {
        var directory = options.Value.Config;
        if (string.IsNullOrEmpty(directory))
        {
            return false;
        }

        var diagnostics = new ConfigDiagnostics();
        var sources = ConfigLoader.ReadDirectory(directory, diagnostics);
        var snapshot = diagnostics.HasErrors ? null : ConfigLoader.Compile(sources, diagnostics);
        if (snapshot is null)
        {
            if (!SameErrors(diagnostics.Errors))
            {
                foreach (var error in diagnostics.Errors)
                {
                    ServerLog.ConfigRejected(logger, state.Current.Generation, error.ToString());
                }

                state.Reject(diagnostics.Errors);
            }

            return false;
        }

        if (snapshot.Fingerprint == state.Current.Fingerprint)
        {
            if (state.LastErrors.Count > 0)
            {
                // The files are back to the active config: the error no longer describes the directory.
                state.ClearErrors();
            }

            return false;
        }

        Log(state.Publish(snapshot));
        return true;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var directory = options.Value.Config;
        if (string.IsNullOrEmpty(directory))
        {
            return;
        }

        using var watcher = StartWatcher(directory);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await _changed.WaitAsync(options.Value.ReloadPollInterval, stoppingToken).ConfigureAwait(false))
                {
                    await Task.Delay(options.Value.ReloadDebounce, stoppingToken).ConfigureAwait(false);
                }

                Reload();
            }
            catch (OperationCanceledException)
            {
                break;
            }
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
            watcher.Error += (_, e) => ServerLog.WatcherFailed(logger, e.GetException());
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            ServerLog.WatcherFailed(logger, e);
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
