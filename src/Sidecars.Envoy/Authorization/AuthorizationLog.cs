using Microsoft.Extensions.Logging;

namespace Sidecars.Envoy.Authorization;

internal static partial class AuthorizationLog
{
    /// <summary>The decision log: why a request was denied. Debug, per request; reasons never carry the token.</summary>
    [LoggerMessage(201, LogLevel.Debug, "ext_authz denied {Status} on route {Route} (provider {Provider}): {Reason}")]
    public static partial void Denied(ILogger logger, int status, string route, string provider, string reason);

    /// <summary>A bug on the Check path, answered with a deny: logged once per cause, then at most once per interval with a count.</summary>
    [LoggerMessage(202, LogLevel.Error, "ext_authz Check failed with {ExceptionType} at {Site} and was denied ({Count} times so far); stack: {Stack}")]
    public static partial void CheckFailed(ILogger logger, string exceptionType, string site, long count, string stack);

    /// <summary>A service (or route) in dry run would have denied: the request was allowed and reported. Debug, per request, as denies are (a dry run under load must not flood the log); counted on /readyz.</summary>
    [LoggerMessage(203, LogLevel.Debug, "ext_authz dry run: service {Service} route {Route} would answer {WouldBe}")]
    public static partial void DryRun(ILogger logger, string service, string route, string wouldBe);
}
