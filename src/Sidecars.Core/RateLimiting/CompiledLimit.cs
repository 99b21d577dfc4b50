namespace Sidecars.RateLimiting;

/// <summary>
/// One limit, compiled once per snapshot with everything the hot path needs precomputed
/// (the GCRA emission interval and tolerance, the bucket key suffix).
/// </summary>
public sealed class CompiledLimit
{
    public CompiledLimit(
        RateLimitUnit unit,
        uint requestsPerUnit,
        LimitAlgorithm algorithm = LimitAlgorithm.TokenBucket,
        uint? burst = null,
        string? name = null,
        bool shadowMode = false,
        IReadOnlyList<string>? replaces = null,
        bool unlimited = false,
        bool detailedMetric = false,
        string fullKey = "",
        string? keySuffix = null)
    {
        Unit = unit;
        RequestsPerUnit = requestsPerUnit;
        Algorithm = algorithm;
        Burst = burst ?? requestsPerUnit;
        Name = string.IsNullOrEmpty(name) ? null : name;
        ShadowMode = shadowMode;
        Replaces = replaces is { Count: > 0 } ? [.. replaces] : [];
        Unlimited = unlimited;
        DetailedMetric = detailedMetric;
        FullKey = fullKey;
        UnitNanos = RateLimitUnits.Nanos(unit);
        KeySuffix = keySuffix ?? DefaultKeySuffix(algorithm, unit);
        if (requestsPerUnit > 0)
        {
            EmissionIntervalNanos = UnitNanos / requestsPerUnit;
            // Clamped so that now + τ cannot overflow a Unix-nanosecond long for any config.
            ToleranceNanos = (long)Int128.Min((Int128)UnitNanos * Burst / requestsPerUnit, MaxToleranceNanos);
        }
    }

    private const long MaxToleranceNanos = 1_000_000_000_000_000_000;

    public RateLimitUnit Unit { get; }

    public uint RequestsPerUnit { get; }

    public LimitAlgorithm Algorithm { get; }

    /// <summary>Token bucket capacity: how many hits may arrive at once. Defaults to <see cref="RequestsPerUnit"/>.</summary>
    public uint Burst { get; }

    public string? Name { get; }

    public bool ShadowMode { get; }

    public string[] Replaces { get; }

    public bool Unlimited { get; }

    public bool DetailedMetric { get; }

    /// <summary>The dotted path of the descriptor in config (<c>domain.key_value.key</c>), as envoyproxy/ratelimit names its stats.</summary>
    public string FullKey { get; }

    public long UnitNanos { get; }

    /// <summary>GCRA emission interval T = unit / rate, truncated to whole nanoseconds.</summary>
    public long EmissionIntervalNanos { get; }

    /// <summary>GCRA tolerance τ = T × burst: how far the theoretical arrival time may run ahead of now.</summary>
    public long ToleranceNanos { get; }

    /// <summary>Appended to a bucket key so that each limit of a descriptor has its own bucket.</summary>
    public string KeySuffix { get; }

    private object? _adapterState;

    /// <summary>
    /// What an adapter derived from this limit alone (its encoded <c>current_limit</c>), built on first use and
    /// kept as long as the limit's snapshot is. Opaque to the core, which never reads it.
    /// </summary>
    public object? AdapterState
    {
        get => Volatile.Read(ref _adapterState);
        set => Volatile.Write(ref _adapterState, value);
    }

    private static string DefaultKeySuffix(LimitAlgorithm algorithm, RateLimitUnit unit) =>
        (algorithm == LimitAlgorithm.FixedWindow ? "fw:" : "tb:") + RateLimitUnits.Name(unit);
}
