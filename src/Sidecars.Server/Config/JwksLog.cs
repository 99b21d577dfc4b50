using Microsoft.Extensions.Logging;

namespace Sidecars.Server.Config;

/// <summary>JWKS fetch outcomes worth an operator's attention, already rate-limited by the source; never key material.</summary>
internal static partial class JwksLog
{
    [LoggerMessage(101, LogLevel.Warning, "JWKS of provider '{Provider}' ({Uri}) could not be fetched: {Error}; {Keys} keys stay in use, next try in {Next} ({Suppressed} more failures since the last report)")]
    public static partial void FetchFailed(ILogger logger, string provider, string uri, string error, int keys, TimeSpan next, int suppressed);

    [LoggerMessage(102, LogLevel.Information, "JWKS of provider '{Provider}' ({Uri}) fetched again after {Failures} failures: {Keys} keys")]
    public static partial void FetchRecovered(ILogger logger, string provider, string uri, int failures, int keys);

    [LoggerMessage(103, LogLevel.Warning, "JWKS of provider '{Provider}' ({Uri}): {Count} keys left out: {Errors}")]
    public static partial void KeysLeftOut(ILogger logger, string provider, string uri, int count, string errors);

    [LoggerMessage(104, LogLevel.Error, "JWKS of provider '{Provider}' cannot be fetched: {Error}")]
    public static partial void SourceFailed(ILogger logger, string provider, string error);
}
