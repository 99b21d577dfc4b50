using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Sidecars.Authentication;

/// <summary>
/// Tokens whose signature no key verified, so that the same bad token sent again is refused without crypto
/// (issue 7, finding 8: the verifies a token may cost are bounded by <see cref="JwtValidator.MaxVerifications"/>,
/// and a repeated one costs none). Beside <see cref="TokenCache"/>, not in it: it holds refusals only.
/// <para>
/// Bounded and fixed-size: a direct-mapped table of <c>capacity</c> slots (a power of two) indexed by the
/// token's SHA-256, a new failure replacing whatever shared its slot. An entry holds the hash, never the token,
/// and applies only to the same provider instance and the same key set instance (a JWKS refresh or a reload
/// makes it a new question), for <see cref="Lifetime"/> at most. A lookup allocates nothing.
/// </para>
/// </summary>
public sealed class FailedTokenCache
{
    /// <summary>How long a refusal is remembered, whatever happens to the key set.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    private readonly Entry?[] _slots;
    private long _hits;

    public FailedTokenCache(int capacity = 1024)
    {
        _slots = new Entry?[(int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(capacity, 1, 1 << 20))];
    }

    /// <summary>Refusals answered from the cache.</summary>
    public long Hits => Interlocked.Read(ref _hits);

    public bool TryGet(ReadOnlySpan<char> token, JwtProvider provider, IReadOnlyList<SigningKey> keys, DateTimeOffset now, out JwtFailure failure)
    {
        failure = default;
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(MemoryMarshal.AsBytes(token), hash);
        var entry = Volatile.Read(ref _slots[Slot(hash)]);
        if (entry is null || !ReferenceEquals(entry.Provider, provider) || !ReferenceEquals(entry.Keys, keys) ||
            now.UtcTicks > entry.Until || !hash.SequenceEqual(entry.Hash))
        {
            return false;
        }

        Interlocked.Increment(ref _hits);
        failure = entry.Failure;
        return true;
    }

    public void Add(ReadOnlySpan<char> token, JwtProvider provider, IReadOnlyList<SigningKey> keys, JwtFailure failure, DateTimeOffset now)
    {
        var hash = SHA256.HashData(MemoryMarshal.AsBytes(token));
        Volatile.Write(ref _slots[Slot(hash)], new Entry(hash, provider, keys, failure, JwtValidator.SaturatingAdd(now, Lifetime).UtcTicks));
    }

    private int Slot(ReadOnlySpan<byte> hash) => (int)(BinaryPrimitives.ReadUInt32LittleEndian(hash) & (uint)(_slots.Length - 1));

    private sealed record Entry(byte[] Hash, JwtProvider Provider, IReadOnlyList<SigningKey> Keys, JwtFailure Failure, long Until);
}
