namespace Sidecars.RateLimiting;

/// <summary>A store's state for readiness and diagnostics: what it is, whether its backend answers, and its counters.</summary>
public sealed record StoreStatus(string Kind, bool BackendAvailable, IReadOnlyDictionary<string, long> Counters);

/// <summary>Implemented by stores that can describe their state.</summary>
public interface IStoreStatusSource
{
    StoreStatus Status();
}
