using System.Runtime;
using System.Runtime.InteropServices;
using System.Text.Json.Serialization;

namespace Sidecars.Floor;

/// <summary>Calls answered, on fields of their own cache line (every request thread adds to them), as the sidecar counts them.</summary>
internal sealed class FloorCounters
{
    private readonly Fields _f = new();

    public void Check() => Interlocked.Increment(ref _f.Check);

    public void ShouldRateLimit() => Interlocked.Increment(ref _f.ShouldRateLimit);

    /// <summary>The sidecar's /readyz "calls" object: the floor allows and answers OK to everything.</summary>
    public Calls Read()
    {
        var check = Interlocked.Read(ref _f.Check);
        var rls = Interlocked.Read(ref _f.ShouldRateLimit);
        return new Calls(check, check, 0, rls, rls, 0);
    }

    [StructLayout(LayoutKind.Explicit, Size = 3 * 128)]
    private sealed class Fields
    {
        [FieldOffset(128)] public long Check;
        [FieldOffset(256)] public long ShouldRateLimit;
    }
}

internal sealed record Calls(long Check, long CheckOk, long CheckDenied, long ShouldRateLimit, long ShouldRateLimitOk, long ShouldRateLimitOverLimit);

/// <summary>Same fields as the sidecar's /readyz "runtime".</summary>
internal sealed record Runtime(int Gen0, int Gen1, int Gen2, double GcPauseMs, long HeapBytes, long WorkingSetBytes, bool ServerGc, int Threads, long AllocatedBytes, long PromotedBytes)
{
    public static Runtime Now() => new(
        GC.CollectionCount(0),
        GC.CollectionCount(1),
        GC.CollectionCount(2),
        GC.GetTotalPauseDuration().TotalMilliseconds,
        GC.GetGCMemoryInfo().HeapSizeBytes,
        Environment.WorkingSet,
        GCSettings.IsServerGC,
        ThreadPool.ThreadCount,
        GC.GetTotalAllocatedBytes(precise: false),
        GC.GetGCMemoryInfo(GCKind.Any).PromotedBytes);
}

internal sealed record ReadyStatus(bool Ready, string Server, Calls Calls, Runtime Runtime);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReadyStatus))]
internal sealed partial class FloorJsonContext : JsonSerializerContext;
