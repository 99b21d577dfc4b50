using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// Logs exceptions that reached the Check boundary, never per request: each distinct cause (exception type and
/// the method that threw) is logged when first seen, then at most once per <see cref="Interval"/> with how
/// often it happened. Distinct causes are bounded; beyond <see cref="MaxCauses"/> they share one. The
/// exception's message is not logged (it may quote request data, a token even); its type and stack are.
/// </summary>
internal sealed class CheckFailureLog(ILogger logger, TimeProvider time)
{
    public const int MaxCauses = 64;

    public static readonly TimeSpan Interval = TimeSpan.FromMinutes(10);

    private readonly ConcurrentDictionary<string, Cause> _causes = new(StringComparer.Ordinal);

    public void Report(Exception exception)
    {
        var type = exception.GetType().FullName ?? exception.GetType().Name;
        var site = Site(exception.StackTrace);
        var key = type + " at " + site;
        if (!_causes.TryGetValue(key, out var cause))
        {
            cause = _causes.Count < MaxCauses ? _causes.GetOrAdd(key, static _ => new Cause()) : _causes.GetOrAdd("(other causes)", static _ => new Cause());
        }

        var count = Interlocked.Increment(ref cause.Count);
        var now = time.GetUtcNow().UtcTicks;
        var last = Volatile.Read(ref cause.LastLogged);
        if ((last == 0 || now - last >= Interval.Ticks) && Interlocked.CompareExchange(ref cause.LastLogged, now, last) == last)
        {
            AuthorizationLog.CheckFailed(logger, type, site, count, exception.StackTrace ?? string.Empty);
        }
    }

    /// <summary>The first frame of the stack trace ("Type.Method(...)"): where it was thrown, without reflection (AOT).</summary>
    private static string Site(string? stackTrace)
    {
        if (string.IsNullOrEmpty(stackTrace))
        {
            return "(unknown)";
        }

        var line = stackTrace.AsSpan().Trim();
        var end = line.IndexOfAny('\r', '\n');
        line = end < 0 ? line : line[..end];
        line = line.StartsWith("at ", StringComparison.Ordinal) ? line[3..] : line;
        var file = line.IndexOf(" in ", StringComparison.Ordinal);
        return (file < 0 ? line : line[..file]).ToString();
    }

    private sealed class Cause
    {
        public long Count;
        public long LastLogged;
    }
}
