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

    public RedisBucketStore(IConnectionMultiplexer redis, RedisStoreOptions options, TimeProvider time, InMemoryBucketStore? fallback = null)
    {
        _redis = redis;
        _options = options;
        _time = time;
        _fallback = fallback;
        _overLimit = new OverLimitCache(options.OverLimitCacheSize, time);
        _circuit = new CircuitBreaker(options.CircuitFailureThreshold, options.CircuitBreakDuration, time);
        _redis.ConnectionRestored += (_, _) => DetectCluster();
        DetectCluster();
    }

    /// <summary>Connects without waiting for Redis to be up: the sidecar starts, applies the failure policy, and reconnects in the background.</summary>
    public static async Task<RedisBucketStore> ConnectAsync(RedisStoreOptions options, TimeProvider time, InMemoryBucketStore? fallback = null)
    {
        var configuration = ConfigurationOptions.Parse(options.Configuration);
        configuration.AbortOnConnectFail = false;
        var redis = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        return new RedisBucketStore(redis, options, time, fallback);
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

        return new ValueTask<bool>(EvaluateAsync(batch, cancellationToken));
    }

    public StoreStatus Status() => new("redis", _redis.IsConnected && !_circuit.IsOpen, new Dictionary<string, long>
    {
        ["connected"] = _redis.IsConnected ? 1 : 0,
        ["cluster"] = _cluster ? 1 : 0,
        ["circuit_open"] = _circuit.IsOpen ? 1 : 0,
        ["calls"] = Interlocked.Read(ref _calls),
        ["failures"] = Interlocked.Read(ref _failures),
        ["failure_policy_decisions"] = Interlocked.Read(ref _policyDecisions),
        ["script_reloads"] = Interlocked.Read(ref _scriptReloads),
        ["over_limit_cache_entries"] = _overLimit.Count,
        ["over_limit_cache_hits"] = _overLimit.Hits,
    });

    public async ValueTask DisposeAsync() => await _redis.DisposeAsync().ConfigureAwait(false);

    private async Task<bool> EvaluateAsync(BucketBatch batch, CancellationToken cancellationToken)
    {
        var (keys, args) = BuildCall(batch);
        try
        {
            Interlocked.Increment(ref _calls);
            bool charged;
            if (_cluster && keys.Length > 1)
            {
                charged = await EvaluateBySlotAsync(batch, keys, args, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var result = await EvalAsync(keys, args).WaitAsync(_options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);
                charged = ReadVerdicts(batch, result, null);
            }

            _circuit.Success();
            return charged;
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException or InvalidOperationException)
        {
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            Interlocked.Increment(ref _failures);
            _circuit.Failure();
            return ApplyFailurePolicy(batch);
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
            var groupArgs = new RedisValue[members.Count * BucketScript.ArgsPerKey];
            for (var j = 0; j < members.Count; j++)
            {
                groupKeys[j] = keys[members[j]];
                Array.Copy(args, members[j] * BucketScript.ArgsPerKey, groupArgs, j * BucketScript.ArgsPerKey, BucketScript.ArgsPerKey);
            }

            calls.Add(([.. members], EvalAsync(groupKeys, groupArgs)));
        }

        await Task.WhenAll(calls.Select(c => c.Result)).WaitAsync(_options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);
        var charged = true;
        foreach (var (members, result) in calls)
        {
            charged &= ReadVerdicts(batch, await result.ConfigureAwait(false), members);
        }

        return charged;
    }

    private async Task<RedisResult> EvalAsync(RedisKey[] keys, RedisValue[] args)
    {
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

    private (RedisKey[] Keys, RedisValue[] Args) BuildCall(BucketBatch batch)
    {
        var ops = batch.Operations;
        var keys = new RedisKey[ops.Length];
        var args = new RedisValue[ops.Length * BucketScript.ArgsPerKey];
        var domain = batch.Domain;
        for (var i = 0; i < ops.Length; i++)
        {
            ref readonly var op = ref ops[i];
            keys[i] = RedisKeys.Build(_options.KeyPrefix, domain?.Name, domain?.HashTagDomain == true, batch.Key(op), _options.MaxKeyLength);
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

    /// <summary>Reads one script result: [charged, then over, remaining, reset µs per key].</summary>
    private bool ReadVerdicts(BucketBatch batch, RedisResult result, int[]? members)
    {
        var values = (RedisResult[])result!;
        var ops = batch.Operations;
        var count = members?.Length ?? ops.Length;
        for (var j = 0; j < count; j++)
        {
            ref var op = ref ops[members is null ? j : members[j]];
            op.OverLimit = (long)values[1 + (j * 3)] == 1;
            op.Remaining = (uint)Math.Min((long)values[2 + (j * 3)], uint.MaxValue);
            op.ResetAfterNanos = (long)values[3 + (j * 3)] * 1000;
            if (op.OverLimit && op.Enforced && op.Hits == 1)
            {
                _overLimit.Add(batch.Key(op), TimeSpan.FromTicks(op.ResetAfterNanos / 100));
            }
        }

        return (long)values[0] == 1;
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
