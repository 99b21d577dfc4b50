using Sidecars.RateLimiting;

namespace Sidecars.Redis;

/// <summary>The Redis store's settings (section <c>Sidecars:Redis</c>).</summary>
public sealed class RedisStoreOptions
{
    /// <summary>A StackExchange.Redis configuration string: hosts, <c>ssl=true</c>, <c>user=</c>/<c>password=</c>, <c>serviceName=</c> for Sentinel; a cluster is detected.</summary>
    public string Configuration { get; set; } = string.Empty;

    /// <summary>A PEM CA certificate that signs the Redis server's TLS certificate (with <c>ssl=true</c>), for private CAs.</summary>
    public string? TrustedCaFile { get; set; }

    /// <summary>Prepended to every key, before the key format version.</summary>
    public string KeyPrefix { get; set; } = "ratelimit:";

    /// <summary>No decision waits on Redis longer than this; past it the failure policy answers.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Consecutive failures that open the circuit.</summary>
    public int CircuitFailureThreshold { get; set; } = 5;

    /// <summary>How long an open circuit answers by the failure policy without trying Redis.</summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Policy of domains that set no <c>on_backend_error</c>.</summary>
    public BackendErrorPolicy OnBackendError { get; set; } = BackendErrorPolicy.Allow;

    /// <summary>With the <c>local</c> policy, each limit is divided by this many replicas while Redis is down.</summary>
    public int FallbackReplicas { get; set; } = 1;

    /// <summary>Buckets known to be over limit, answered locally until their retry time. 0 disables the cache.</summary>
    public int OverLimitCacheSize { get; set; } = 100_000;

    /// <summary>Script calls outstanding at once; decisions arriving beyond it are coalesced into the next call.</summary>
    public int MaxScriptsInFlight { get; set; } = 4;

    /// <summary>Most decisions coalesced into one script call.</summary>
    public int MaxCoalescedDecisions { get; set; } = 128;

    /// <summary>Bucket keys longer than this (huge descriptor values) are replaced by a 128-bit hash.</summary>
    public int MaxKeyLength { get; set; } = 512;
}
