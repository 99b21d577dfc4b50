using Sidecars.Config;

namespace Sidecars.RateLimiting;

/// <summary>Outcome of a whole request, with the numbers of Envoy's <c>RateLimitResponse.Code</c>.</summary>
public enum RateLimitCode
{
    Unknown = 0,
    Ok = 1,
    OverLimit = 2,
}

/// <summary>One entry of a request descriptor.</summary>
public readonly record struct DescriptorEntry(string Key, string Value);

/// <summary>A request descriptor: a slice of the query's entries plus its optional override and hits.</summary>
public struct DescriptorInput
{
    public int EntryStart;
    public int EntryCount;
    public RateLimitUnit OverrideUnit;
    public uint OverrideRequestsPerUnit;
    public bool HasOverride;

    /// <summary>The descriptor's own hits_addend, or -1 when it has none.</summary>
    public long HitsAddend;
}

/// <summary>What the engine decided for one descriptor, in request order.</summary>
public struct DescriptorOutcome
{
    public RateLimitCode Code;

    /// <summary>The limit reported as the descriptor's current limit, or null when no limit applied.</summary>
    public CompiledLimit? Limit;

    public uint Remaining;

    /// <summary>Allowed: time until the bucket is full again (window end for fixed_window). Over limit: time until the hits would fit.</summary>
    public long ResetAfterNanos;

    public bool Unlimited;

    /// <summary>Over its limit, but answered OK because the limit is in shadow mode.</summary>
    public bool ShadowedOverLimit;
}

/// <summary>
/// A rate limit request in the core's own terms, with its outcome and scratch space. Instances are pooled
/// and their arrays reused, so a steady-state decision allocates nothing.
/// </summary>
public sealed class RateLimitQuery
{
    // A query that grew past this (an abusive request) is dropped rather than kept in the pool.
    private const int MaxPooledEntries = 1024;

    [ThreadStatic]
    private static RateLimitQuery? t_cached;

    private DescriptorInput[] _descriptors = new DescriptorInput[8];
    private DescriptorEntry[] _entries = new DescriptorEntry[16];
    private DescriptorOutcome[] _outcomes = new DescriptorOutcome[8];
    private CompiledLimit[]?[] _resolved = new CompiledLimit[]?[8];

    public string Domain { get; set; } = string.Empty;

    /// <summary>The request's hits_addend; 0 means unset, which counts as 1.</summary>
    public uint HitsAddend { get; set; }

    public int DescriptorCount { get; private set; }

    public int EntryCount { get; private set; }

    public RateLimitCode OverallCode { get; internal set; }

    /// <summary>The store could not reach its backend; the decision came from the domain's failure policy.</summary>
    public bool BackendUnavailable => Batch.BackendUnavailable;

    internal BucketBatch Batch { get; } = new();

    /// <summary>The snapshot the decision was made with; kept so that the response reflects one config.</summary>
    internal ConfigSnapshot? Snapshot { get; set; }

    public ReadOnlySpan<DescriptorInput> Descriptors => _descriptors.AsSpan(0, DescriptorCount);

    public ReadOnlySpan<DescriptorEntry> Entries => _entries.AsSpan(0, EntryCount);

    public ReadOnlySpan<DescriptorOutcome> Outcomes => _outcomes.AsSpan(0, DescriptorCount);

    internal Span<DescriptorOutcome> OutcomesMutable => _outcomes.AsSpan(0, DescriptorCount);

    internal Span<CompiledLimit[]?> Resolved => _resolved.AsSpan(0, DescriptorCount);

    public static RateLimitQuery Rent()
    {
        var query = t_cached;
        if (query is null)
        {
            return new RateLimitQuery();
        }

        t_cached = null;
        return query;
    }

    public static void Return(RateLimitQuery query)
    {
        if (query.EntryCount > MaxPooledEntries || query.DescriptorCount > MaxPooledEntries)
        {
            return;
        }

        query.Clear();
        t_cached = query;
    }

    /// <summary>Starts a descriptor; its entries follow through <see cref="AddEntry"/>.</summary>
    public void BeginDescriptor(long hitsAddend = -1, bool hasOverride = false, uint overrideRequestsPerUnit = 0, RateLimitUnit overrideUnit = RateLimitUnit.Unknown)
    {
        if (DescriptorCount == _descriptors.Length)
        {
            Array.Resize(ref _descriptors, DescriptorCount * 2);
            Array.Resize(ref _outcomes, DescriptorCount * 2);
            Array.Resize(ref _resolved, DescriptorCount * 2);
        }

        _descriptors[DescriptorCount++] = new DescriptorInput
        {
            EntryStart = EntryCount,
            HitsAddend = hitsAddend,
            HasOverride = hasOverride,
            OverrideRequestsPerUnit = overrideRequestsPerUnit,
            OverrideUnit = overrideUnit,
        };
    }

    public void AddEntry(string key, string value)
    {
        if (EntryCount == _entries.Length)
        {
            Array.Resize(ref _entries, EntryCount * 2);
        }

        _entries[EntryCount++] = new DescriptorEntry(key, value);
        _descriptors[DescriptorCount - 1].EntryCount++;
    }

    public ReadOnlySpan<DescriptorEntry> EntriesOf(int descriptor)
    {
        ref readonly var d = ref _descriptors[descriptor];
        return _entries.AsSpan(d.EntryStart, d.EntryCount);
    }

    public void Clear()
    {
        Array.Clear(_entries, 0, EntryCount);
        Array.Clear(_outcomes, 0, DescriptorCount);
        Array.Clear(_resolved, 0, DescriptorCount);
        DescriptorCount = 0;
        EntryCount = 0;
        Domain = string.Empty;
        HitsAddend = 0;
        OverallCode = RateLimitCode.Unknown;
        Snapshot = null;
        Batch.Clear();
    }
}
