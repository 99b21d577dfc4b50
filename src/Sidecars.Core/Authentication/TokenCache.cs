using System.Collections.Concurrent;

namespace Sidecars.Authentication;

/// <summary>
/// Tokens already validated, so a repeated token skips parsing and crypto (as Envoy's <c>jwt_cache_config</c>
/// does). A hit allocates nothing. An entry is used only for a provider with the same
/// <see cref="JwtProvider.CacheFingerprint"/> as the one that validated it (same name and validation options: a
/// reload that tightens the issuer, audiences or lifetime misses), until the token's <c>exp</c> (plus the
/// provider's clock skew), and only while the provider's current key set still holds the key that verified it —
/// a key removed from the JWKS revokes its tokens.
/// Bounded: beyond <c>capacity</c> new tokens are not cached until expired entries are dropped.
/// </summary>
/// <remarks>
/// Keyed by the SHA-256 of the token text (<see cref="TokenHash"/>), not the text: the 32 bytes and the entry
/// sit inline in the dictionary's node, one object per token beside the <see cref="ValidatedToken"/>, where the
/// text key, a node and an entry record were 1.4 KB in three objects. Every GC marks what the cache holds, so
/// fewer, smaller objects per token are shorter pauses. A hit costs one SHA-256 of the token (about 0.5 µs).
/// </remarks>
public sealed class TokenCache(int capacity, TimeProvider time)
{
    private readonly ConcurrentDictionary<TokenHash, Entry> _entries = new();
    private long _hits;
    private long _lastPrune;

    // ConcurrentDictionary.Count takes every lock of the table; a miss (a new token on every call) read it each time.
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public long Hits => Interlocked.Read(ref _hits);

    public bool TryGet(ReadOnlySpan<char> token, JwtProvider provider, IReadOnlyList<SigningKey> currentKeys, out ValidatedToken? validated)
    {
        validated = null;
        if (_entries.IsEmpty || !TokenHash.TryCompute(token, out var key) || !_entries.TryGetValue(key, out var entry))
        {
            return false;
        }

        // The fingerprint string of an unchanged provider is usually the very same instance; else 64 hex chars compared.
        var fingerprint = provider.CacheFingerprint;
        if (!ReferenceEquals(entry.Fingerprint, fingerprint) && !string.Equals(entry.Fingerprint, fingerprint, StringComparison.Ordinal))
        {
            return false;
        }

        if (time.GetUtcNow().UtcTicks > entry.ValidUntilTicks || !Holds(currentKeys, entry.Token.Key))
        {
            Remove(key, entry);
            return false;
        }

        Interlocked.Increment(ref _hits);
        validated = entry.Token;
        return true;
    }

    /// <summary>Caches a validated token until <paramref name="validUntil"/> (its exp plus the clock skew).</summary>
    public void Add(ReadOnlySpan<char> token, JwtProvider provider, ValidatedToken validated, DateTimeOffset validUntil)
    {
        if (capacity <= 0 || !TokenHash.TryCompute(token, out var key))
        {
            return;
        }

        if (Count >= capacity)
        {
            Prune();
            if (Count >= capacity)
            {
                return;
            }
        }

        var entry = new Entry(validated, provider.CacheFingerprint, validUntil.UtcTicks);
        if (_entries.TryAdd(key, entry))
        {
            Interlocked.Increment(ref _count);
        }
        else
        {
            _entries[key] = entry;
        }
    }

    private void Prune()
    {
        // At most once a second: pruning walks every entry.
        var now = time.GetUtcNow().UtcTicks;
        var last = Interlocked.Read(ref _lastPrune);
        if (now - last < TimeSpan.TicksPerSecond || Interlocked.CompareExchange(ref _lastPrune, now, last) != last)
        {
            return;
        }

        foreach (var (key, entry) in _entries)
        {
            if (now > entry.ValidUntilTicks)
            {
                Remove(key, entry);
            }
        }
    }

    private void Remove(TokenHash key, Entry entry)
    {
        if (_entries.TryRemove(new KeyValuePair<TokenHash, Entry>(key, entry)))
        {
            Interlocked.Decrement(ref _count);
        }
    }

    private static bool Holds(IReadOnlyList<SigningKey> keys, SigningKey? key)
    {
        for (var i = 0; i < keys.Count; i++)
        {
            if (ReferenceEquals(keys[i], key))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Held in the node, not behind a reference: no object of its own. Equal when it is the same caching of the same token.</summary>
    private readonly record struct Entry(ValidatedToken Token, string Fingerprint, long ValidUntilTicks);
}
