using Microsoft.Extensions.Logging;

namespace Sidecars.Server;

internal static partial class ServerLog
{
    [LoggerMessage(1, LogLevel.Information, "sidecars starting: {Settings}")]
    public static partial void Starting(ILogger logger, string settings);

    [LoggerMessage(2, LogLevel.Information, "listening for {Protocol} on {Address}")]
    public static partial void Listening(ILogger logger, string protocol, string address);

    [LoggerMessage(3, LogLevel.Information, "config generation {Generation} active: {Domains} domains, {Limits} limits from {Files} files ({Fingerprint})")]
    public static partial void ConfigLoaded(ILogger logger, long generation, int domains, int limits, int files, string fingerprint);

    [LoggerMessage(4, LogLevel.Error, "config rejected, generation {Generation} stays active: {Error}")]
    public static partial void ConfigRejected(ILogger logger, long generation, string error);

    /// <summary>An owner's file rejected alone (issue 9): its last good version stays active, the other files' changes are applied.</summary>
    [LoggerMessage(7, LogLevel.Error, "config file {File} rejected, its last good version stays active (generation {Generation}): {Error}")]
    public static partial void FileRejected(ILogger logger, string file, long generation, string error);

    [LoggerMessage(5, LogLevel.Warning, "config watcher failed; polling continues")]
    public static partial void WatcherFailed(ILogger logger, Exception exception);

    [LoggerMessage(6, LogLevel.Information, "shutting down: waiting up to {Timeout} for in-flight calls")]
    public static partial void ShuttingDown(ILogger logger, TimeSpan timeout);

    [LoggerMessage(22, LogLevel.Information, "SIGTERM: not ready; still answering for {Delay} before the listeners close")]
    public static partial void Draining(ILogger logger, TimeSpan delay);

    [LoggerMessage(20, LogLevel.Warning, "unknown setting {Setting} ({EnvironmentVariable}) is ignored; the settings are listed in docs/CONFIG.md#server-settings")]
    public static partial void UnknownSetting(ILogger logger, string setting, string environmentVariable);

    [LoggerMessage(21, LogLevel.Information, "open files limit (RLIMIT_NOFILE): {Before} at start, {After} now; at most {MaxConnections} client connections per listener")]
    public static partial void FileLimit(ILogger logger, ulong before, ulong after, int maxConnections);
}
