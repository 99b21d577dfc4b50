using Microsoft.Extensions.Logging;

namespace Sidecars.Server.Config;

/// <summary>Logs of the config reloader beyond <see cref="ServerLog"/>'s load and reject lines.</summary>
internal static partial class ConfigLog
{
    [LoggerMessage(40, LogLevel.Error, "config reload failed unexpectedly; generation {Generation} stays active, retrying at the next poll")]
    public static partial void ReloadFailed(ILogger logger, long generation, Exception exception);

    [LoggerMessage(41, LogLevel.Warning, "config directory {Directory} holds no config files (*.yaml, *.yml): nothing is rate limited")]
    public static partial void EmptyDirectory(ILogger logger, string directory);
}
