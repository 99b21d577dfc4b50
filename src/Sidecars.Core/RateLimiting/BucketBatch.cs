namespace Sidecars.RateLimiting;

/// <summary>
/// One bucket to check and charge: a limit, its key, and the hits. The store fills in the verdict.
/// </summary>
public struct BucketOperation
{
    public CompiledLimit Limit;
    public int Descriptor;
    public int KeyStart;
    public int KeyLength;
    public ulong Hits;

    /// <summary>False for shadow-mode limits (and under global shadow mode): over limit here does not deny the request.</summary>
    public bool Enforced;

    /// <summary>Scratch for the store during one decision (e.g. the bucket it found), so it looks a key up once.</summary>
    public object? StoreSlot;

    public bool OverLimit;
    public uint Remaining;
    public long ResetAfterNanos;
}

/// <summary>
/// The buckets of one request, decided all-or-nothing by a store: if any enforced bucket is over its
/// limit none is charged. Keys live in one reused character buffer, so building them allocates nothing.
/// </summary>
public sealed class BucketBatch
{
    private BucketOperation[] _operations = new BucketOperation[8];
    private char[] _keys = new char[512];
    private int _keyLength;

    public int Count { get; private set; }

    /// <summary>The domain the operations belong to, with its backend policies.</summary>
    public RateLimitDomain? Domain { get; set; }

    /// <summary>Set by a store that could not reach its backend and answered by the domain's failure policy.</summary>
    public bool BackendUnavailable { get; set; }

    public Span<BucketOperation> Operations => _operations.AsSpan(0, Count);

    public ReadOnlySpan<char> Key(in BucketOperation operation) => _keys.AsSpan(operation.KeyStart, operation.KeyLength);

    /// <summary>Appends an operation whose key is then written with <see cref="ReserveKey"/> and <see cref="CommitKey"/>.</summary>
    public ref BucketOperation Add(CompiledLimit limit, int descriptor, ulong hits, bool enforced)
    {
        if (Count == _operations.Length)
        {
            Array.Resize(ref _operations, Count * 2);
        }

        ref var op = ref _operations[Count++];
        op = new BucketOperation { Limit = limit, Descriptor = descriptor, Hits = hits, Enforced = enforced, KeyStart = _keyLength };
        return ref op;
    }

    /// <summary>Room for at most <paramref name="maxLength"/> characters of the last operation's key.</summary>
    public Span<char> ReserveKey(int maxLength)
    {
        if (_keyLength + maxLength > _keys.Length)
        {
            Array.Resize(ref _keys, Math.Max(_keys.Length * 2, _keyLength + maxLength));
        }

        return _keys.AsSpan(_keyLength, maxLength);
    }

    /// <summary>Keeps the first <paramref name="length"/> characters written to <see cref="ReserveKey"/>'s span as the last operation's key.</summary>
    public void CommitKey(int length)
    {
        _keyLength += length;
        _operations[Count - 1].KeyLength += length;
    }

    /// <summary>Drops the last operation and its key (a key that turned out to lack a part: its limit does not apply).</summary>
    public void RemoveLast()
    {
        ref var last = ref _operations[Count - 1];
        _keyLength = last.KeyStart;
        last = default;
        Count--;
    }

    public void Clear()
    {
        Array.Clear(_operations, 0, Count);
        Count = 0;
        _keyLength = 0;
        Domain = null;
        BackendUnavailable = false;
    }
}

/// <summary>
/// Where buckets live (this process, or Redis for a fleet). The core owns this seam; stores own storage and clocks.
/// </summary>
public interface IBucketStore
{
    /// <summary>
    /// Decides every operation of <paramref name="batch"/> atomically: sets each verdict, and charges the
    /// buckets only when no enforced operation is over its limit. Returns whether they were charged.
    /// </summary>
    ValueTask<bool> ApplyAsync(BucketBatch batch, CancellationToken cancellationToken);
}
