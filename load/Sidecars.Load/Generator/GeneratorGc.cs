using System.Runtime;

namespace Sidecars.Load.Generator;

/// <summary>
/// Keeps the generator's own garbage collector out of what it measures. Building a scenario leaves tens of MB of
/// garbage (the token pool, the encoded requests); a collection during the run then paused the schedule thread and
/// every call in flight: measured against the floor at 1,000 calls/s, slip p99 1.8 ms and p99.9 23 ms with it,
/// 0.1 ms and 3.8 ms without it (a large gen0 budget and tier-1 code from the start). So the heap is collected
/// before the clock starts, and the run is a no-GC region when the runtime grants one big enough for it.
/// </summary>
internal sealed class GeneratorGc : IDisposable
{
    // What a run may allocate before the region ends by itself (a raw HTTP/2 call allocates ~220 B; the recorder's
    // interval histograms and the timeline a little more); the runtime refuses more than it can reserve.
    private const long RegionBytes = 192L * 1024 * 1024;

    private readonly bool _region;

    private GeneratorGc(bool region) => _region = region;

    /// <summary>Why the run had no no-GC region, or null when it had one.</summary>
    public string? Refused { get; private init; }

    public static GeneratorGc Quiet()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        try
        {
            return GC.TryStartNoGCRegion(RegionBytes)
                ? new GeneratorGc(region: true)
                : new GeneratorGc(region: false) { Refused = "the runtime did not grant a no-GC region" };
        }
        catch (ArgumentOutOfRangeException e)
        {
            return new GeneratorGc(region: false) { Refused = "no-GC region refused: " + e.Message };
        }
        catch (InvalidOperationException e)
        {
            return new GeneratorGc(region: false) { Refused = "no-GC region refused: " + e.Message };
        }
    }

    /// <summary>True when the region held to the end (no collection of the generator during the run).</summary>
    public bool Held => _region && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion;

    public void Dispose()
    {
        if (Held)
        {
            try
            {
                GC.EndNoGCRegion();
            }
            catch (InvalidOperationException)
            {
                // A collection ended the region between the check and here (another thread allocated past it).
            }
        }
    }
}
