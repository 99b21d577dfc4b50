using System.Collections.Concurrent;

namespace Sidecars.Redis;

/// <summary>
/// Buckets known to be over their limit, with the local time until which they certainly stay over (their
/// retry time: other replicas can only add hits). A request needing one of them is denied without a Redis
/// call. Bounded: when full, expired entries are dropped, and new ones are not cached until there is room.
/// </summary>
internal sealed class OverLimitCache(int capacity, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _until = new(StringComparer.Ordinal);
    private long _hits;
    private long _lastPrune;

    public int Count => _until.Count;

    public long Hits => Interlocked.Read(ref _hits);

    /// <summary>Time left before <paramref name="key"/> may allow again, or zero when it is not cached.</summary>
    public TimeSpan Remaining(ReadOnlySpan<char> key)
    {
        if (capacity == 0 || _until.IsEmpty || !_until.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(key, out var until))
        {
            return TimeSpan.Zero;
        }

        var now = time.GetTimestamp();
        return until > now ? time.GetElapsedTime(now, until) : TimeSpan.Zero;
    }

    public void CountHit() => Interlocked.Increment(ref _hits);

    public void Add(ReadOnlySpan<char> key, TimeSpan retryAfter)
    {
        if (capacity == 0 || retryAfter <= TimeSpan.Zero)
        {
            return;
        }

        var now = time.GetTimestamp();
        if (_until.Count >= capacity)
        {
            Prune(now);
            if (_until.Count >= capacity)
            {
                return;
            }
        }

        var until = now + (long)(retryAfter.TotalSeconds * time.TimestampFrequency);
        _until[key.ToString()] = until;
    }

    private void Prune(long now)
    {
        // At most once a second: pruning walks the whole cache.
        var last = Interlocked.Read(ref _lastPrune);
        if (now - last < time.TimestampFrequency || Interlocked.CompareExchange(ref _lastPrune, now, last) != last)
        {
            return;
        }

        foreach (var (key, until) in _until)
        {
            if (until <= now)
            {
                _until.TryRemove(new KeyValuePair<string, long>(key, until));
            }
        }
    }
}
