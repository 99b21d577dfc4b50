using System.Runtime.CompilerServices;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;
using StackExchange.Redis;

namespace Sidecars.Redis;

/// <summary>
/// Buckets shared by every replica through Redis: one EVALSHA per decision (one per cluster slot in a
/// Redis Cluster, sent in parallel), a local cache of buckets known to be over limit, and a failure policy
/// behind a timeout and a circuit breaker so a dead Redis never holds a decision up.
/// </summary>
public sealed class RedisBucketStore : IBucketStore, IStoreStatusSource, IAsyncDisposable
{
    private const int MaxCachedKeys = 100_000;

    private readonly IConnectionMultiplexer _redis;
    private readonly RedisStoreOptions _options;
    private readonly TimeProvider _time;
    private readonly InMemoryBucketStore? _fallback;
    private readonly OverLimitCache _overLimit;
    private readonly CircuitBreaker _circuit;
    private readonly ConditionalWeakTable<CompiledLimit, CompiledLimit> _scaled = new();
    private readonly ConditionalWeakTable<CompiledLimit, CompiledLimit> _original = new();
    private volatile bool _cluster;
    private long _calls;
    private long _failures;
    private long _policyDecisions;
    private long _scriptReloads;
    private long _scriptCalls;
    private readonly Queue<PendingDecision> _queue = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<PendingDecision> _outstanding = new();
    private readonly ITimer _timeouts;
    private readonly long _timeoutTicks;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (bool ByDomain, RedisKey Key)> _keyCache = new(StringComparer.Ordinal);
    private int _inFlight;

    public RedisBucketStore(IConnectionMultiplexer redis, RedisStoreOptions options, TimeProvider time, InMemoryBucketStore? fallback = null)
    {
        _redis = redis;
        _options = options;
        _time = time;
        _fallback = fallback;
        _overLimit = new OverLimitCache(options.OverLimitCacheSize, time);
        _circuit = new CircuitBreaker(options.CircuitFailureThreshold, options.CircuitBreakDuration, time);
        _timeoutTicks = (long)(options.OperationTimeout.TotalSeconds * time.TimestampFrequency);
        var tick = TimeSpan.FromTicks(Math.Max(TimeSpan.TicksPerMillisecond, options.OperationTimeout.Ticks / 10));
        _timeouts = time.CreateTimer(static s => ((RedisBucketStore)s!).ExpireOverdue(), this, tick, tick);
        _redis.ConnectionRestored += (_, _) =>
        {
            DetectCluster();
            _ = LoadScriptAsync();
        };
        DetectCluster();
    }

    /// <summary>Connects without waiting for Redis to be up: the sidecar starts, applies the failure policy, and reconnects in the background.</summary>
    public static async Task<RedisBucketStore> ConnectAsync(RedisStoreOptions options, TimeProvider time, InMemoryBucketStore? fallback = null)
    {
        var configuration = ConfigurationOptions.Parse(options.Configuration);
        configuration.AbortOnConnectFail = false;
        if (!string.IsNullOrEmpty(options.TrustedCaFile))
        {
            configuration.TrustIssuer(options.TrustedCaFile);
        }

        var redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        var store = new RedisBucketStore(redis, options, time, fallback);
        await store.LoadScriptAsync().ConfigureAwait(false);
        return store;
    }

    public IConnectionMultiplexer Connection => _redis;

    public ValueTask<bool> ApplyAsync(BucketBatch batch, CancellationToken cancellationToken)
    {
        if (AnsweredFromOverLimitCache(batch))
        {
            return new ValueTask<bool>(false);
        }

        if (!_circuit.TryEnter())
        {
            return new ValueTask<bool>(ApplyFailurePolicy(batch));
        }

        var (keys, args) = BuildCall(batch);
        Interlocked.Increment(ref _calls);
        return _cluster && keys.Length > 1
            ? new ValueTask<bool>(EvaluateBySlotAsync(batch, keys, args, cancellationToken))
            : new ValueTask<bool>(DecideAsync(batch, new PendingDecision(keys, args), cancellationToken));
    }

    public StoreStatus Status() => new("redis", _redis.IsConnected && !_circuit.IsOpen, new Dictionary<string, long>
    {
        ["connected"] = _redis.IsConnected ? 1 : 0,
        ["cluster"] = _cluster ? 1 : 0,
        ["circuit_open"] = _circuit.IsOpen ? 1 : 0,
        ["calls"] = Interlocked.Read(ref _calls),
        ["script_calls"] = Interlocked.Read(ref _scriptCalls),
        ["failures"] = Interlocked.Read(ref _failures),
        ["failure_policy_decisions"] = Interlocked.Read(ref _policyDecisions),
        ["script_reloads"] = Interlocked.Read(ref _scriptReloads),
        ["over_limit_cache_entries"] = _overLimit.Count,
        ["over_limit_cache_hits"] = _overLimit.Hits,
    });

    public async ValueTask DisposeAsync()
    {
        _timeouts.Dispose();
        await _redis.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>Waits for the decision's script call, at most the operation timeout; past it, or on error, the failure policy answers.</summary>
    private async Task<bool> DecideAsync(BucketBatch batch, PendingDecision pending, CancellationToken cancellationToken)
    {
        pending.Deadline = _time.GetTimestamp() + _timeoutTicks;
        _outstanding.Enqueue(pending);
        Submit(pending);
        await pending.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (pending.Verdicts is null)
        {
            return Failed(batch);
        }

        _circuit.Success();
        return ReadVerdicts(batch, pending.Verdicts, 0, null);
    }

    /// <summary>
    /// Times out decisions still waiting past their deadline. The timeout is the same for all, so deadlines
    /// come in submission order and one periodic timer walking a FIFO replaces a timer per decision.
    /// </summary>
    private void ExpireOverdue()
    {
        var now = _time.GetTimestamp();
        while (_outstanding.TryPeek(out var oldest) && (oldest.Done.Task.IsCompleted || oldest.Deadline <= now))
        {
            _outstanding.TryDequeue(out _);
            oldest.Done.TrySetResult();
        }
    }

    /// <summary>
    /// Sends the decision at once while fewer than <see cref="RedisStoreOptions.MaxScriptsInFlight"/> calls are
    /// outstanding; otherwise queues it, and the next call to finish sends everything queued as one script call.
    /// An idle sidecar adds no delay; a busy one turns many decisions into one round trip.
    /// </summary>
    private void Submit(PendingDecision pending)
    {
        lock (_queue)
        {
            if (_inFlight >= _options.MaxScriptsInFlight)
            {
                _queue.Enqueue(pending);
                return;
            }

            _inFlight++;
        }

        _ = DispatchAsync([pending]);
    }

    private async Task DispatchAsync(List<PendingDecision> group)
    {
        while (true)
        {
            await SendAsync(group).ConfigureAwait(false);
            lock (_queue)
            {
                if (_queue.Count == 0)
                {
                    _inFlight--;
                    return;
                }

                group = new List<PendingDecision>(Math.Min(_queue.Count, _options.MaxCoalescedDecisions));
                while (_queue.Count > 0 && group.Count < _options.MaxCoalescedDecisions)
                {
                    group.Add(_queue.Dequeue());
                }
            }
        }
    }

    /// <summary>One script call for a group of decisions; never throws: a failure marks every decision failed.</summary>
    private async Task SendAsync(List<PendingDecision> group)
    {
        try
        {
            var keyCount = group.Sum(p => p.Keys.Length);
            var keys = new RedisKey[keyCount];
            var args = new RedisValue[1 + group.Count + (keyCount * BucketScript.ArgsPerKey)];
            args[0] = group.Count;
            int k = 0, a = 1;
            foreach (var pending in group)
            {
                pending.Keys.CopyTo(keys, k);
                k += pending.Keys.Length;
                args[a++] = pending.Keys.Length;
                pending.Args.CopyTo(args, a);
                a += pending.Args.Length;
            }

            var values = (RedisResult[])(await EvalAsync(keys, args).ConfigureAwait(false))!;
            var offset = 0;
            foreach (var pending in group)
            {
                var length = 1 + (pending.Keys.Length * 3);
                var verdicts = new long[length];
                for (var i = 0; i < length; i++)
                {
                    verdicts[i] = (long)values[offset + i];
                }

                offset += length;
                pending.Verdicts = verdicts;
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException or InvalidOperationException or InvalidCastException or ObjectDisposedException)
        {
            // Each waiter applies its domain's failure policy.
        }
        finally
        {
            foreach (var pending in group)
            {
                pending.Done.TrySetResult();
            }
        }
    }

    /// <summary>Redis Cluster: one script per slot, all in flight at once; all-or-nothing holds within each slot.</summary>
    private async Task<bool> EvaluateBySlotAsync(BucketBatch batch, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        var groups = new Dictionary<int, List<int>>();
        for (var i = 0; i < keys.Length; i++)
        {
            var slot = _redis.HashSlot(keys[i]);
            if (!groups.TryGetValue(slot, out var members))
            {
                groups[slot] = members = [];
            }

            members.Add(i);
        }

        var calls = new List<(int[] Members, Task<RedisResult> Result)>(groups.Count);
        foreach (var members in groups.Values)
        {
            var groupKeys = new RedisKey[members.Count];
            var groupArgs = new RedisValue[2 + (members.Count * BucketScript.ArgsPerKey)];
            groupArgs[0] = 1;
            groupArgs[1] = members.Count;
            for (var j = 0; j < members.Count; j++)
            {
                groupKeys[j] = keys[members[j]];
                Array.Copy(args, members[j] * BucketScript.ArgsPerKey, groupArgs, 2 + (j * BucketScript.ArgsPerKey), BucketScript.ArgsPerKey);
            }

            calls.Add(([.. members], EvalAsync(groupKeys, groupArgs)));
        }

        try
        {
            await Task.WhenAll(calls.Select(c => c.Result)).WaitAsync(_options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or InvalidOperationException)
        {
            return Failed(batch);
        }

        _circuit.Success();
        var charged = true;
        foreach (var (members, result) in calls)
        {
            var values = ((RedisResult[])(await result.ConfigureAwait(false))!).Select(v => (long)v).ToArray();
            charged &= ReadVerdicts(batch, values, 0, members);
        }

        return charged;
    }

    private async Task<RedisResult> EvalAsync(RedisKey[] keys, RedisValue[] args)
    {
        Interlocked.Increment(ref _scriptCalls);
        var database = _redis.GetDatabase();
        try
        {
            return await database.ScriptEvaluateAsync(BucketScript.Sha1, keys, args).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (e.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
        {
            // Redis restarted or flushed its script cache: send the source once; that node caches it again.
            Interlocked.Increment(ref _scriptReloads);
            return await database.ScriptEvaluateAsync(BucketScript.Source, keys, args).ConfigureAwait(false);
        }
    }

    /// <summary>Keys and per-key script arguments of one decision.</summary>
    private (RedisKey[] Keys, RedisValue[] Args) BuildCall(BucketBatch batch)
    {
        var ops = batch.Operations;
        var keys = new RedisKey[ops.Length];
        var args = new RedisValue[ops.Length * BucketScript.ArgsPerKey];
        var domain = batch.Domain;
        for (var i = 0; i < ops.Length; i++)
        {
            ref readonly var op = ref ops[i];
            keys[i] = RedisKey(batch.Key(op), domain);
            var a = i * BucketScript.ArgsPerKey;
            args[a] = op.Limit.Algorithm == LimitAlgorithm.FixedWindow ? 1 : 0;
            args[a + 1] = op.Limit.UnitNanos / 1000;
            args[a + 2] = op.Limit.RequestsPerUnit;
            args[a + 3] = op.Limit.Burst;
            args[a + 4] = op.Hits;
            args[a + 5] = op.Enforced ? 1 : 0;
        }

        return (keys, args);
    }

    /// <summary>
    /// The Redis key of a bucket. Hot keys repeat, so built keys are kept (bounded) and found again by the
    /// engine's key without allocating; an entry records the hash-tag mode it was built with, so a reload
    /// that changes a domain's <c>hash_tag</c> rebuilds it.
    /// </summary>
    private RedisKey RedisKey(ReadOnlySpan<char> bucket, RateLimitDomain? domain)
    {
        var byDomain = domain?.HashTagDomain == true;
        var cache = _keyCache.GetAlternateLookup<ReadOnlySpan<char>>();
        if (cache.TryGetValue(bucket, out var cached) && cached.ByDomain == byDomain)
        {
            return cached.Key;
        }

        var key = RedisKeys.Build(_options.KeyPrefix, domain?.Name, byDomain, bucket, _options.MaxKeyLength);
        if (_keyCache.Count < MaxCachedKeys)
        {
            cache[bucket] = (byDomain, key);
        }

        return key;
    }

    /// <summary>Applies one decision's reply, [charged, then over, remaining, reset µs per key], to its operations.</summary>
    private bool ReadVerdicts(BucketBatch batch, long[] values, int offset, int[]? members)
    {
        var ops = batch.Operations;
        var count = members?.Length ?? ops.Length;
        for (var j = 0; j < count; j++)
        {
            ref var op = ref ops[members is null ? j : members[j]];
            var at = offset + 1 + (j * 3);
            op.OverLimit = values[at] == 1;
            op.Remaining = (uint)Math.Min(values[at + 1], uint.MaxValue);
            op.ResetAfterNanos = values[at + 2] * 1000;
            if (op.OverLimit && op.Enforced && op.Hits == 1)
            {
                _overLimit.Add(batch.Key(op), TimeSpan.FromTicks(op.ResetAfterNanos / 100));
            }
        }

        return values[offset] == 1;
    }

    private bool Failed(BucketBatch batch)
    {
        Interlocked.Increment(ref _failures);
        _circuit.Failure();
        return ApplyFailurePolicy(batch);
    }

    /// <summary>
    /// A request that needs a bucket known to be over limit is denied here, with no Redis call. Its other
    /// buckets are not evaluated: they report their limit with 0 remaining and no reset time.
    /// </summary>
    private bool AnsweredFromOverLimitCache(BucketBatch batch)
    {
        var ops = batch.Operations;
        var hit = -1;
        var retryAfter = TimeSpan.Zero;
        for (var i = 0; i < ops.Length && hit < 0; i++)
        {
            if (ops[i].Enforced && ops[i].Hits > 0)
            {
                retryAfter = _overLimit.Remaining(batch.Key(ops[i]));
                if (retryAfter > TimeSpan.Zero)
                {
                    hit = i;
                }
            }
        }

        if (hit < 0)
        {
            return false;
        }

        _overLimit.CountHit();
        for (var i = 0; i < ops.Length; i++)
        {
            ops[i].OverLimit = i == hit;
            ops[i].Remaining = 0;
            ops[i].ResetAfterNanos = i == hit ? retryAfter.Ticks * 100 : 0;
        }

        return true;
    }

    private bool ApplyFailurePolicy(BucketBatch batch)
    {
        Interlocked.Increment(ref _policyDecisions);
        batch.BackendUnavailable = true;
        var ops = batch.Operations;
        switch (batch.Domain?.OnBackendError ?? _options.OnBackendError)
        {
            case BackendErrorPolicy.Local when _fallback is not null:
                for (var i = 0; i < ops.Length; i++)
                {
                    ops[i].Limit = Scaled(ops[i].Limit);
                }

                var charged = _fallback.Apply(batch);
                for (var i = 0; i < ops.Length; i++)
                {
                    ops[i].Limit = Unscaled(ops[i].Limit);
                }

                return charged;
            case BackendErrorPolicy.Deny:
                var denied = false;
                for (var i = 0; i < ops.Length; i++)
                {
                    ops[i].OverLimit = ops[i].Enforced;
                    ops[i].Remaining = 0;
                    ops[i].ResetAfterNanos = (long)_options.CircuitBreakDuration.TotalMilliseconds * 1_000_000;
                    denied |= ops[i].Enforced;
                }

                return !denied;
            default:
                for (var i = 0; i < ops.Length; i++)
                {
                    ops[i].OverLimit = false;
                    ops[i].Remaining = ops[i].Limit.Burst;
                    ops[i].ResetAfterNanos = 0;
                }

                return true;
        }
    }

    /// <summary>The limit one replica enforces alone while Redis is down: rate and burst divided by the replica count.</summary>
    private CompiledLimit Scaled(CompiledLimit limit) => _scaled.GetValue(limit, l =>
    {
        var replicas = (uint)Math.Max(1, _options.FallbackReplicas);
        var scaled = new CompiledLimit(
            l.Unit,
            Math.Max(1, l.RequestsPerUnit / replicas),
            l.Algorithm,
            l.Algorithm == LimitAlgorithm.TokenBucket ? Math.Max(1, l.Burst / replicas) : null,
            l.Name,
            l.ShadowMode,
            l.Replaces,
            l.Unlimited,
            l.DetailedMetric,
            l.FullKey,
            l.KeySuffix);
        _original.AddOrUpdate(scaled, l);
        return scaled;
    });

    private CompiledLimit Unscaled(CompiledLimit limit) => _original.TryGetValue(limit, out var original) ? original : limit;

    /// <summary>One decision on its way to Redis: its keys and arguments, and the reply once it came.</summary>
    private sealed class PendingDecision(RedisKey[] keys, RedisValue[] args)
    {
        public RedisKey[] Keys { get; } = keys;

        public RedisValue[] Args { get; } = args;

        /// <summary>[charged, then over, remaining, reset µs per key]; null when the call failed or timed out.</summary>
        public long[]? Verdicts { get; set; }

        /// <summary>When the decision stops waiting (a <see cref="TimeProvider"/> timestamp).</summary>
        public long Deadline { get; set; }

        /// <summary>
        /// Completed inline by the call that got the reply: the waiting decisions finish on that thread and
        /// their next decisions queue up for the following call, which keeps batches large under load.
        /// </summary>
        public TaskCompletionSource Done { get; } = new();
    }

    /// <summary>
    /// SCRIPT LOAD on every connected primary, at start and after each reconnection, so the first decision
    /// is already an EVALSHA. A node that missed it answers NOSCRIPT once and gets the source then.
    /// </summary>
    private async Task LoadScriptAsync()
    {
        try
        {
            foreach (var server in _redis.GetServers())
            {
                if (server.IsConnected && !server.IsReplica)
                {
                    await server.ScriptLoadAsync(BucketScript.Source).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException or InvalidOperationException)
        {
            // Not fatal: EvalAsync handles NOSCRIPT.
        }
    }

    private void DetectCluster()
    {
        try
        {
            _cluster = _redis.GetServers().Any(s => s.IsConnected && s.ServerType == ServerType.Cluster);
        }
        catch (RedisException)
        {
            // Unknown until a connection is restored.
        }
    }
}
