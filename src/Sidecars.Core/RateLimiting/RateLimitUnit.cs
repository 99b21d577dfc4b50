namespace Sidecars.RateLimiting;

/// <summary>Time unit of a limit. Numbers equal Envoy's <c>RateLimitResponse.RateLimit.Unit</c> so mapping is a cast.</summary>
public enum RateLimitUnit
{
    Unknown = 0,
    Second = 1,
    Minute = 2,
    Hour = 3,
    Day = 4,
    Month = 5,
    Year = 6,
    Week = 7,
}

/// <summary>How a limit's bucket evolves.</summary>
public enum LimitAlgorithm
{
    /// <summary>GCRA token bucket: one stored value (the theoretical arrival time), smooth refill, burst capacity.</summary>
    TokenBucket,

    /// <summary>envoyproxy/ratelimit's counter per window, the window aligned to the unit since the Unix epoch.</summary>
    FixedWindow,
}

public static class RateLimitUnits
{
    public const long NanosPerSecond = 1_000_000_000;

    /// <summary>
    /// Whole seconds, rounded up (a wait of 0.2 s is 1; none or negative is 0), as Retry-After and the reset headers
    /// give them (RFC 9110 §10.2.3): a client that waits that long is not refused again. Never overflows.
    /// </summary>
    public static long WholeSecondsRoundedUp(long nanos) => nanos <= 0 ? 0 : (nanos - 1) / NanosPerSecond + 1;

    /// <summary>Length of a unit as envoyproxy/ratelimit counts it: a month is 30 days, a year 365 days.</summary>
    public static long Seconds(RateLimitUnit unit) => unit switch
    {
        RateLimitUnit.Second => 1,
        RateLimitUnit.Minute => 60,
        RateLimitUnit.Hour => 3600,
        RateLimitUnit.Day => 86_400,
        RateLimitUnit.Week => 7 * 86_400,
        RateLimitUnit.Month => 30 * 86_400,
        RateLimitUnit.Year => 365 * 86_400,
        _ => 0,
    };

    public static long Nanos(RateLimitUnit unit) => Seconds(unit) * NanosPerSecond;

    public static bool TryParse(string? text, out RateLimitUnit unit)
    {
        unit = text?.ToLowerInvariant() switch
        {
            "second" => RateLimitUnit.Second,
            "minute" => RateLimitUnit.Minute,
            "hour" => RateLimitUnit.Hour,
            "day" => RateLimitUnit.Day,
            "week" => RateLimitUnit.Week,
            "month" => RateLimitUnit.Month,
            "year" => RateLimitUnit.Year,
            _ => RateLimitUnit.Unknown,
        };
        return unit != RateLimitUnit.Unknown;
    }

    public static string Name(RateLimitUnit unit) => unit switch
    {
        RateLimitUnit.Second => "second",
        RateLimitUnit.Minute => "minute",
        RateLimitUnit.Hour => "hour",
        RateLimitUnit.Day => "day",
        RateLimitUnit.Week => "week",
        RateLimitUnit.Month => "month",
        RateLimitUnit.Year => "year",
        _ => "unknown",
    };
}
