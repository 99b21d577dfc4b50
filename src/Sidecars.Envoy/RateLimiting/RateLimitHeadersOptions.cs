namespace Sidecars.Envoy.RateLimiting;

/// <summary>
/// Response headers describing the most restrictive descriptor. Both sets are off by default, as in envoyproxy/ratelimit.
/// </summary>
public sealed class RateLimitHeadersOptions
{
    /// <summary>envoyproxy/ratelimit's <c>LIMIT_RESPONSE_HEADERS_ENABLED</c>: RateLimit-Limit, -Remaining, -Reset.</summary>
    public bool Enabled { get; set; }

    public string LimitHeader { get; set; } = "RateLimit-Limit";

    public string RemainingHeader { get; set; } = "RateLimit-Remaining";

    public string ResetHeader { get; set; } = "RateLimit-Reset";

    /// <summary>The IETF httpapi draft's structured fields: <c>RateLimit</c> and <c>RateLimit-Policy</c>.</summary>
    public bool Draft { get; set; }

    public string DraftHeader { get; set; } = "RateLimit";

    public string DraftPolicyHeader { get; set; } = "RateLimit-Policy";

    /// <summary>When a shared store could not be reached and the failure policy answered, add <see cref="BackendHeader"/>: unavailable.</summary>
    public bool Backend { get; set; }

    public string BackendHeader { get; set; } = "x-ratelimit-backend";
}
