using System.Runtime.InteropServices;

namespace Sidecars.Server.Wire;

/// <summary>
/// Calls answered, by method and outcome, for <c>/readyz</c> "calls": the load tool cross-checks its own counts (and
/// h2load's, which reads a gRPC error as a success) with them. One interlocked add per outcome on a field of its own
/// cache line, since every request thread adds to them.
/// </summary>
internal sealed class CallCounters
{
    private readonly Fields _f = new();

    public void Check(bool ok)
    {
        Interlocked.Increment(ref _f.Check);
        Interlocked.Increment(ref ok ? ref _f.CheckOk : ref _f.CheckDenied);
    }

    /// <summary><paramref name="overLimit"/>: OVER_LIMIT; <paramref name="ok"/>: OK; neither (UNKNOWN) counts only the call.</summary>
    public void ShouldRateLimit(bool ok, bool overLimit)
    {
        Interlocked.Increment(ref _f.ShouldRateLimit);
        if (ok)
        {
            Interlocked.Increment(ref _f.ShouldRateLimitOk);
        }
        else if (overLimit)
        {
            Interlocked.Increment(ref _f.ShouldRateLimitOverLimit);
        }
    }

    public CallCounts Read() => new(
        Interlocked.Read(ref _f.Check),
        Interlocked.Read(ref _f.CheckOk),
        Interlocked.Read(ref _f.CheckDenied),
        Interlocked.Read(ref _f.ShouldRateLimit),
        Interlocked.Read(ref _f.ShouldRateLimitOk),
        Interlocked.Read(ref _f.ShouldRateLimitOverLimit));

    [StructLayout(LayoutKind.Explicit, Size = 7 * 128)]
    private sealed class Fields
    {
        [FieldOffset(128)] public long Check;
        [FieldOffset(256)] public long CheckOk;
        [FieldOffset(384)] public long CheckDenied;
        [FieldOffset(512)] public long ShouldRateLimit;
        [FieldOffset(640)] public long ShouldRateLimitOk;
        [FieldOffset(768)] public long ShouldRateLimitOverLimit;
    }
}

/// <summary>/readyz "calls": <c>check_ok</c> + <c>check_denied</c> = <c>check</c>; a rate limit answer of UNKNOWN is in neither of its two;
/// <c>check_dry_run</c> counts the allows of a service in dry run that would have been denied (they are in <c>check_ok</c>).</summary>
internal sealed record CallCounts(long Check, long CheckOk, long CheckDenied, long ShouldRateLimit, long ShouldRateLimitOk, long ShouldRateLimitOverLimit)
{
    public long CheckDryRun { get; init; }
}
