namespace Sidecars.Jwks;

/// <summary>Bounds of one provider's key fetching.</summary>
public sealed class JwksOptions
{
    /// <summary>Longest wait for one HTTP fetch (discovery document or key set).</summary>
    public TimeSpan FetchTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Largest document accepted; a larger one is an error and the current keys stay.</summary>
    public int MaxBytes { get; set; } = 256 * 1024;

    /// <summary>A token naming an unknown <c>kid</c> triggers at most one fetch per this interval.</summary>
    public TimeSpan MinRefreshInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>After a failed fetch, the next try (the current keys stay in use meanwhile).</summary>
    public TimeSpan RetryAfterFailure { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Refresh this fraction earlier than the cache lifetime, at random, so replicas do not fetch in step.</summary>
    public double Jitter { get; set; } = 0.1;
}
