using Sidecars.Config;

namespace Sidecars.RateLimiting;

/// <summary>Outcome of a whole request, with the numbers of Envoy's <c>RateLimitResponse.Code</c>.</summary>
public enum RateLimitCode
{
    Unknown = 0,
    Ok = 1,
    OverLimit = 2,
}

/// <summary>One entry of a request descriptor: where its key and value sit in the query's <see cref="RateLimitQuery.Text"/>.</summary>
public readonly record struct DescriptorEntry(int KeyStart, int KeyLength, int ValueStart, int ValueLength)
{
    public ReadOnlySpan<char> KeyIn(ReadOnlySpan<char> text) => text.Slice(KeyStart, KeyLength);

    public ReadOnlySpan<char> ValueIn(ReadOnlySpan<char> text) => text.Slice(ValueStart, ValueLength);
}

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
    // A query that grew past these (an abusive request) is dropped rather than kept in the pool.
    private const int MaxPooledEntries = 1024;
    private const int MaxPooledText = 64 * 1024;

    [ThreadStatic]
    private static RateLimitQuery? t_cached;

    private DescriptorInput[] _descriptors = new DescriptorInput[8];
    private DescriptorEntry[] _entries = new DescriptorEntry[16];
    private DescriptorOutcome[] _outcomes = new DescriptorOutcome[8];
    private CompiledLimit[]?[] _resolved = new CompiledLimit[]?[8];

    // The domain and every entry's key and value, as characters in one reused buffer: a request read straight off
    // the wire (UTF-8) fills it without a string per field.
    private char[] _text = new char[256];
    private int _textLength;
    private int _domainStart;
    private int _domainLength;

    /// <summary>The domain as a string (tests and diagnostics; allocates). The decision reads <see cref="DomainName"/>.</summary>
    public string Domain
    {
        get => DomainName.ToString();
        set => SetDomain(value);
    }

    public ReadOnlySpan<char> DomainName => _text.AsSpan(_domainStart, _domainLength);

    /// <summary>The characters every <see cref="DescriptorEntry"/> points into.</summary>
    public ReadOnlySpan<char> Text => _text.AsSpan(0, _textLength);

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
        if (Reset(query))
        {
            t_cached = query;
        }
    }

    /// <summary>Clears <paramref name="query"/> for reuse by whatever pools it; false when it grew too large to be worth keeping.</summary>
    public static bool Reset(RateLimitQuery query)
    {
        if (query.EntryCount > MaxPooledEntries || query.DescriptorCount > MaxPooledEntries || query._text.Length > MaxPooledText)
        {
            return false;
        }

        query.Clear();
        return true;
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

    public void SetDomain(ReadOnlySpan<char> domain)
    {
        _domainStart = Append(domain);
        _domainLength = domain.Length;
    }

    /// <summary>Sets the domain from UTF-8; false, and the domain unchanged, if <paramref name="utf8"/> is not valid UTF-8.</summary>
    public bool TrySetDomainUtf8(ReadOnlySpan<byte> utf8)
    {
        var mark = _textLength;
        if (!TryAppendUtf8(utf8, out var start, out var length))
        {
            _textLength = mark;
            return false;
        }

        _domainStart = start;
        _domainLength = length;
        return true;
    }

    /// <summary>Adds an entry to the descriptor begun last.</summary>
    public void AddEntry(ReadOnlySpan<char> key, ReadOnlySpan<char> value)
    {
        var keyStart = Append(key);
        var valueStart = Append(value);
        AppendEntry(new DescriptorEntry(keyStart, key.Length, valueStart, value.Length));
    }

    /// <summary>Adds an entry from UTF-8; false, and nothing added, if either is not valid UTF-8.</summary>
    public bool TryAddEntryUtf8(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        var mark = _textLength;
        if (!TryAppendUtf8(key, out var keyStart, out var keyLength) || !TryAppendUtf8(value, out var valueStart, out var valueLength))
        {
            _textLength = mark;
            return false;
        }

        AppendEntry(new DescriptorEntry(keyStart, keyLength, valueStart, valueLength));
        return true;
    }

    private void AppendEntry(DescriptorEntry entry)
    {
        if (EntryCount == _entries.Length)
        {
            Array.Resize(ref _entries, EntryCount * 2);
        }

        _entries[EntryCount++] = entry;
        _descriptors[DescriptorCount - 1].EntryCount++;
    }

    private int Append(ReadOnlySpan<char> text)
    {
        EnsureText(text.Length);
        var start = _textLength;
        text.CopyTo(_text.AsSpan(start));
        _textLength += text.Length;
        return start;
    }

    private bool TryAppendUtf8(ReadOnlySpan<byte> utf8, out int start, out int length)
    {
        // UTF-8 never takes fewer bytes than the UTF-16 code units it decodes to.
        EnsureText(utf8.Length);
        start = _textLength;
        var status = System.Text.Unicode.Utf8.ToUtf16(utf8, _text.AsSpan(start), out _, out length, replaceInvalidSequences: false);
        if (status != System.Buffers.OperationStatus.Done)
        {
            return false;
        }

        _textLength += length;
        return true;
    }

    private void EnsureText(int more)
    {
        if (_text.Length - _textLength < more)
        {
            Array.Resize(ref _text, Math.Max(_text.Length * 2, _textLength + more));
        }
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
        _textLength = 0;
        _domainStart = 0;
        _domainLength = 0;
        HitsAddend = 0;
        OverallCode = RateLimitCode.Unknown;
        Snapshot = null;
        Batch.Clear();
    }
}
