namespace Sidecars.RateLimiting;

/// <summary>Engine-wide behaviour and the request bounds that keep a hostile request cheap.</summary>
public sealed class RateLimitEngineOptions
{
    /// <summary>envoyproxy/ratelimit's SHADOW_MODE: decide and report as usual, but answer OK overall.</summary>
    public bool GlobalShadowMode { get; set; }

    public int MaxDescriptors { get; set; } = 64;

    public int MaxEntriesPerDescriptor { get; set; } = 32;

    /// <summary>Longest descriptor key or value accepted, in characters.</summary>
    public int MaxEntryLength { get; set; } = 16 * 1024;
}

/// <summary>A request the engine will not decide, with the reason to send back.</summary>
public sealed class RateLimitRequestException(string message) : Exception(message);
