namespace Sidecars.RateLimiting;

/// <summary>
/// The stored state of one bucket. Token bucket: <see cref="A"/> is the GCRA theoretical arrival time (Unix ns).
/// Fixed window: <see cref="A"/> is the window start (Unix ns) and <see cref="B"/> the hits counted in it.
/// </summary>
public readonly record struct BucketState(long A, long B)
{
    /// <summary>When the bucket is back to its initial state, so that forgetting it changes nothing.</summary>
    public long IdleAfter(CompiledLimit limit) =>
        limit.Algorithm == LimitAlgorithm.FixedWindow ? A + limit.UnitNanos : A;
}

/// <summary>A decision on one bucket, and the state to store if the request is charged.</summary>
public readonly record struct BucketVerdict(bool OverLimit, uint Remaining, long ResetAfterNanos, BucketState NewState);

/// <summary>
/// Pure bucket arithmetic, shared by every store. All times are Unix nanoseconds from the store's clock.
/// </summary>
public static class BucketMath
{
    // Larger than any tolerance (capped at 1e18 ns) and small enough that now + span never overflows.
    private const ulong MaxSpan = 2_000_000_000_000_000_000;

    public static BucketVerdict Evaluate(CompiledLimit limit, BucketState state, long now, ulong hits) =>
        limit.Algorithm == LimitAlgorithm.FixedWindow
            ? FixedWindow(limit, state, now, hits)
            : TokenBucket(limit, state, now, hits);

    /// <summary>
    /// GCRA: a request of n hits moves the theoretical arrival time TAT to max(TAT, now) + n·T and is allowed
    /// while TAT − now ≤ τ. hits = 0 is a check: over limit when not even one hit would fit.
    /// </summary>
    public static BucketVerdict TokenBucket(CompiledLimit limit, BucketState state, long now, ulong hits)
    {
        var unit = limit.UnitNanos;
        var rate = limit.RequestsPerUnit;
        if (rate == 0 || hits > limit.Burst)
        {
            // Never satisfiable: zero rate (envoyproxy/ratelimit denies everything), or more hits than the bucket holds.
            return new BucketVerdict(true, 0, unit, state);
        }

        var tat = Math.Max(state.A, now);
        var tolerance = limit.ToleranceNanos;
        var cost = MulDiv(unit, hits == 0 ? 1UL : hits, rate);
        var newTat = tat + cost;
        if (newTat - now > tolerance)
        {
            return new BucketVerdict(true, 0, newTat - tolerance - now, state);
        }

        if (hits == 0)
        {
            return new BucketVerdict(false, Remaining(tolerance - (tat - now), rate, unit), tat - now, state);
        }

        return new BucketVerdict(false, Remaining(tolerance - (newTat - now), rate, unit), newTat - now, new BucketState(newTat, 0));
    }

    /// <summary>envoyproxy/ratelimit's fixed window: the window starts at a multiple of the unit since the Unix epoch.</summary>
    public static BucketVerdict FixedWindow(CompiledLimit limit, BucketState state, long now, ulong hits)
    {
        var window = limit.UnitNanos;
        var start = now - (now % window);
        var resetAfter = start + window - now;
        var count = state.A == start ? (ulong)state.B : 0UL;
        var rate = (ulong)limit.RequestsPerUnit;
        if (hits == 0)
        {
            return count >= rate
                ? new BucketVerdict(true, 0, resetAfter, state)
                : new BucketVerdict(false, (uint)(rate - count), resetAfter, state);
        }

        var after = count + hits;
        if (after > rate || after < count)
        {
            return new BucketVerdict(true, 0, resetAfter, state);
        }

        return new BucketVerdict(false, (uint)(rate - after), resetAfter, new BucketState(start, (long)after));
    }

    /// <summary>a × b / c for non-negative a, rounded down; 64-bit when the product fits, 128-bit otherwise.</summary>
    private static long MulDiv(long a, ulong b, ulong c)
    {
        var high = Math.BigMul((ulong)a, b, out var low);
        if (high == 0)
        {
            return (long)Math.Min(low / c, MaxSpan);
        }

        // Only reachable with huge bursts on long units; anything past MaxSpan is over every tolerance anyway.
        return (long)UInt128.Min((UInt128)a * b / c, MaxSpan);
    }

    /// <summary>Whole tokens left in a slack of <paramref name="slackNanos"/>: floor(slack / T), computed without T's rounding.</summary>
    private static uint Remaining(long slackNanos, uint rate, long unit)
    {
        if (slackNanos <= 0)
        {
            return 0;
        }

        var tokens = MulDiv(slackNanos, rate, (ulong)unit);
        return tokens >= uint.MaxValue ? uint.MaxValue : (uint)tokens;
    }
}
