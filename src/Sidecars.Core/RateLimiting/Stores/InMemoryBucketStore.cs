namespace Sidecars.RateLimiting.Stores;

/// <summary>Bounds and housekeeping of the in-memory store.</summary>
public sealed class InMemoryStoreOptions
{
    /// <summary>Most buckets kept at once. A new key beyond it is decided on a fresh bucket and not stored (counted in <see cref="InMemoryBucketStore.UntrackedDecisions"/>).</summary>
    public int MaxKeys { get; set; } = 1_000_000;

    /// <summary>How often idle buckets (full again, or past their window) are removed.</summary>
    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Buckets in this process, in stripes: each stripe is a plain dictionary guarded by its own lock, so a key is
/// hashed once for its stripe and once in the stripe's dictionary, and no node object is kept per bucket. Each
/// request locks the stripes of its keys in ascending order (so two requests never deadlock), decides every
/// bucket, then charges all or none: N parallel callers can never be granted more than the limit.
/// </summary>
public sealed class InMemoryBucketStore : IBucketStore, IStoreStatusSource, IDisposable
{
    private const int StripeCount = 1024;
    private const int StackLimit = 64;

    private readonly Stripe[] _stripes = new Stripe[StripeCount];
    private readonly TimeProvider _time;
    private readonly InMemoryStoreOptions _options;
    private readonly ITimer _sweeper;
    private int _count;
    private long _untracked;
    private long _lastForcedSweep;

    public InMemoryBucketStore(TimeProvider time, InMemoryStoreOptions? options = null)
    {
        _time = time;
        _options = options ?? new InMemoryStoreOptions();
        for (var i = 0; i < _stripes.Length; i++)
        {
            _stripes[i] = new Stripe();
        }

        _sweeper = time.CreateTimer(static s => ((InMemoryBucketStore)s!).Sweep(), this, _options.SweepInterval, _options.SweepInterval);
    }

    /// <summary>Buckets held now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Decisions made on a fresh bucket that could not be stored because <see cref="InMemoryStoreOptions.MaxKeys"/> was reached.</summary>
    public long UntrackedDecisions => Interlocked.Read(ref _untracked);

    public ValueTask<bool> ApplyAsync(BucketBatch batch, CancellationToken cancellationToken) => new(Apply(batch));

    public bool Apply(BucketBatch batch)
    {
        var ops = batch.Operations;
        int[]? rented = null;
        var buffer = ops.Length <= StackLimit ? stackalloc int[ops.Length * 2] : (rented = System.Buffers.ArrayPool<int>.Shared.Rent(ops.Length * 2)).AsSpan(0, ops.Length * 2);
        var stripeOf = buffer[..ops.Length];
        var order = buffer[ops.Length..];
        var states = ops.Length <= StackLimit ? stackalloc BucketState[ops.Length] : new BucketState[ops.Length];
        for (var i = 0; i < ops.Length; i++)
        {
            stripeOf[i] = StripeOf(batch.Key(ops[i]));
        }

        stripeOf.CopyTo(order);
        order.Sort();
        var locked = 0;
        try
        {
            for (; locked < order.Length; locked++)
            {
                if (locked == 0 || order[locked] != order[locked - 1])
                {
                    _stripes[order[locked]].Gate.Enter();
                }
            }

            return Decide(batch, ops, stripeOf, states, UnixNanos());
        }
        finally
        {
            for (var i = locked - 1; i >= 0; i--)
            {
                if (i == 0 || order[i] != order[i - 1])
                {
                    _stripes[order[i]].Gate.Exit();
                }
            }

            if (rented is not null)
            {
                System.Buffers.ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private bool Decide(BucketBatch batch, Span<BucketOperation> ops, ReadOnlySpan<int> stripeOf, Span<BucketState> states, long now)
    {
        var denied = false;
        for (var i = 0; i < ops.Length; i++)
        {
            ref var op = ref ops[i];
            var key = batch.Key(op);

            // Two operations on one bucket in one request: the later one sees the earlier one's charge.
            var state = default(BucketState);
            var earlier = EarlierSameBucket(batch, ops, i);
            if (earlier >= 0)
            {
                state = states[earlier];
            }
            else if (_stripes[stripeOf[i]].Lookup.TryGetValue(key, out var bucket))
            {
                state = bucket.State;
                op.StoreSlot = bucket;
            }

            var verdict = BucketMath.Evaluate(op.Limit, state, now, op.Hits);
            op.OverLimit = verdict.OverLimit;
            op.Remaining = verdict.Remaining;
            op.ResetAfterNanos = verdict.ResetAfterNanos;
            states[i] = verdict.NewState;
            denied |= verdict.OverLimit && op.Enforced;
        }

        if (denied)
        {
            return false;
        }

        for (var i = 0; i < ops.Length; i++)
        {
            ref var op = ref ops[i];
            if (!op.OverLimit && op.Hits > 0)
            {
                if (op.StoreSlot is Bucket found)
                {
                    found.State = states[i];
                    found.IdleAfter = states[i].IdleAfter(op.Limit);
                }
                else
                {
                    Store(_stripes[stripeOf[i]], batch.Key(op), states[i], states[i].IdleAfter(op.Limit), now);
                }
            }
        }

        return true;
    }

    private static int EarlierSameBucket(BucketBatch batch, Span<BucketOperation> ops, int index)
    {
        var key = batch.Key(ops[index]);
        for (var j = index - 1; j >= 0; j--)
        {
            if (ReferenceEquals(ops[j].Limit, ops[index].Limit) && batch.Key(ops[j]).SequenceEqual(key))
            {
                return j;
            }
        }

        return -1;
    }

    /// <summary>Called with <paramref name="stripe"/> locked.</summary>
    private void Store(Stripe stripe, ReadOnlySpan<char> key, BucketState state, long idleAfter, long now)
    {
        if (stripe.Lookup.TryGetValue(key, out var bucket))
        {
            bucket.State = state;
            bucket.IdleAfter = idleAfter;
            return;
        }

        if (Volatile.Read(ref _count) >= _options.MaxKeys)
        {
            SweepIfDue(now);
            if (Volatile.Read(ref _count) >= _options.MaxKeys)
            {
                Interlocked.Increment(ref _untracked);
                return;
            }
        }

        // Only a first sight of a key allocates: the key string and its bucket.
        if (stripe.Lookup.TryAdd(key, new Bucket { State = state, IdleAfter = idleAfter }))
        {
            Interlocked.Increment(ref _count);
        }
    }

    private void SweepIfDue(long now)
    {
        // A full store sweeps at most once a second from the request path; the timer does the rest.
        var last = Interlocked.Read(ref _lastForcedSweep);
        if (now - last >= 1_000_000_000 && Interlocked.CompareExchange(ref _lastForcedSweep, now, last) == last)
        {
            Sweep(graceNanos: 0);
        }
    }

    /// <summary>
    /// Removes buckets that are back to their initial state; forgetting them changes no decision. The timer's sweep
    /// spares a bucket that became idle less than <see cref="IdleGrace"/> ago: a generous limit refills within
    /// nanoseconds, so without it every key in use was forgotten at each sweep and allocated again on its next
    /// request (measured: 30,000 keys recreated at once, p99 1.2 -> 18 ms for that second at 8,000 calls/s).
    /// A full store sweeps with no grace, since admitting a new key then matters more.
    /// </summary>
    public void Sweep() => Sweep(IdleGrace);

    private long IdleGrace => Math.Min(_options.SweepInterval.Ticks / 2, TimeSpan.TicksPerSecond * 5) * 100;

    private void Sweep(long graceNanos)
    {
        var now = UnixNanos();
        foreach (var stripe in _stripes)
        {
            // TryEnter, never Enter: a sweep forced from the request path already holds other stripes, and
            // waiting out of order could deadlock. A busy stripe is left for the next sweep, and so is one this
            // thread holds: the request holding it may be about to charge one of its buckets.
            if (stripe.Buckets.Count == 0 || stripe.Gate.IsHeldByCurrentThread || !stripe.Gate.TryEnter())
            {
                continue;
            }

            try
            {
                foreach (var (key, bucket) in stripe.Buckets)
                {
                    // Removing the current entry while enumerating is allowed for Dictionary.
                    if (bucket.IdleAfter <= now - graceNanos && stripe.Buckets.Remove(key))
                    {
                        Interlocked.Decrement(ref _count);
                    }
                }
            }
            finally
            {
                stripe.Gate.Exit();
            }
        }
    }

    public void Dispose() => _sweeper.Dispose();

    public StoreStatus Status() => new("memory", true, new Dictionary<string, long>
    {
        ["keys"] = Count,
        ["max_keys"] = _options.MaxKeys,
        ["untracked_decisions"] = UntrackedDecisions,
    });

    private long UnixNanos() => (_time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks) * 100;

    // Randomized (Marvin): a client choosing descriptor values cannot pile its keys into one stripe.
    private static int StripeOf(ReadOnlySpan<char> key) => string.GetHashCode(key) & (StripeCount - 1);

    private sealed class Stripe
    {
        public readonly Lock Gate = new();

        // Ordinal keys: Dictionary hashes them unrandomized until a stripe sees many collisions, then randomizes.
        public readonly Dictionary<string, Bucket> Buckets = new(StringComparer.Ordinal);

        public Stripe() => Lookup = Buckets.GetAlternateLookup<ReadOnlySpan<char>>();

        public Dictionary<string, Bucket>.AlternateLookup<ReadOnlySpan<char>> Lookup { get; }
    }

    private sealed class Bucket
    {
        public BucketState State;
        public long IdleAfter;
    }
}
