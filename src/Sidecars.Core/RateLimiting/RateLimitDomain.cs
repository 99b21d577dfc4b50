namespace Sidecars.RateLimiting;

/// <summary>What a shared store does for a domain when it cannot reach its backend.</summary>
public enum BackendErrorPolicy
{
    /// <summary>Answer OK: a rate limiter must not take the site down.</summary>
    Allow,

    /// <summary>Answer OVER_LIMIT: fail closed.</summary>
    Deny,

    /// <summary>Decide with this process's in-memory buckets, each limit divided by the replica count.</summary>
    Local,
}

/// <summary>One compiled domain: its descriptor tree and the domain-wide options of our extensions.</summary>
public sealed class RateLimitDomain(string name, DescriptorNode root, BackendErrorPolicy? onBackendError = null, bool hashTagDomain = false)
{
    public string Name { get; } = name;

    public DescriptorNode Root { get; } = root;

    /// <summary>The domain's <c>on_backend_error</c>, or null for the server's default.</summary>
    public BackendErrorPolicy? OnBackendError { get; } = onBackendError;

    /// <summary><c>hash_tag: domain</c>: every bucket of the domain in one Redis Cluster slot, so a request is strictly all-or-nothing.</summary>
    public bool HashTagDomain { get; } = hashTagDomain;
}
