using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Sidecars.Authentication;
using Sidecars.Authorization.Config;

namespace Sidecars.Authorization.Services;

/// <summary>One API key as config holds it: its id, the SHA-256 of the key, and the identity it stands for (a token-like <see cref="ValidatedToken"/> built once).</summary>
public sealed class ApiKey(string id, byte[] hash, ValidatedToken identity)
{
    public string Id { get; } = id;

    /// <summary>SHA-256 of the key's UTF-8 bytes; the key itself is never held.</summary>
    internal byte[] Hash { get; } = hash;

    /// <summary>What a request that presents the key is authenticated as: its claims, with <c>sub</c> defaulting to <see cref="Id"/>.</summary>
    public ValidatedToken Identity { get; } = identity;
}

/// <summary>
/// A service's named set of API keys: where a request carries one, and the keys by hash. A presented key is
/// hashed (SHA-256), looked up by the hash's first 8 bytes and then compared whole in constant time
/// (<see cref="CryptographicOperations.FixedTimeEquals"/>), so neither the config nor the timing of a lookup
/// says anything about a key.
/// </summary>
public sealed class ApiKeySet
{
    private const int MaxKeyLength = 4096;

    private Dictionary<ulong, ApiKey[]> _byHash;

    public ApiKeySet(string service, string name, IReadOnlyList<TokenLocation> locations, IReadOnlyList<ApiKey> keys, IReadOnlyList<ClaimHeader> claimToHeaders, bool forward)
    {
        Service = service;
        Name = name;
        QualifiedName = service + "/" + name;
        Keys = keys;
        _byHash = keys.GroupBy(k => BinaryPrimitives.ReadUInt64LittleEndian(k.Hash)).ToDictionary(g => g.Key, g => g.ToArray());

        // A set reads like a provider for the upstream: claim_to_headers, and the key removed unless forward: true.
        Policy = new ProviderPolicy(new JwtProvider(QualifiedName, new JwtValidationOptions(), locations), new KeySource(), forward, null, claimToHeaders);
    }

    public string Service { get; }

    public string Name { get; }

    /// <summary><c>service/name</c>: the provider name an allow by this set carries.</summary>
    public string QualifiedName { get; }

    public IReadOnlyList<ApiKey> Keys { get; }

    /// <summary>The set as the upstream shaping reads a provider: its locations, claim headers and <c>forward</c>.</summary>
    public ProviderPolicy Policy { get; }

    public IReadOnlyList<TokenLocation> Locations => Policy.Provider.Locations;

    /// <summary>The key whose hash equals the hash of <paramref name="presented"/>, or null.</summary>
    public ApiKey? Find(ReadOnlySpan<char> presented)
    {
        if (presented.Length is 0 or > MaxKeyLength)
        {
            return null;
        }

        Span<byte> hash = stackalloc byte[32];
        var max = Encoding.UTF8.GetMaxByteCount(presented.Length);
        byte[]? rented = null;
        var bytes = max <= 1024 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            var written = Encoding.UTF8.GetBytes(presented, bytes);
            SHA256.HashData(bytes[..written], hash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }

        if (!Volatile.Read(ref _byHash).TryGetValue(BinaryPrimitives.ReadUInt64LittleEndian(hash), out var candidates))
        {
            return null;
        }

        ApiKey? found = null;
        foreach (var candidate in candidates)
        {
            if (CryptographicOperations.FixedTimeEquals(candidate.Hash, hash))
            {
                found = candidate;
            }
        }

        return found;
    }

    /// <summary>
    /// For the offline tools (<c>sidecars test</c>, <c>sidecars explain</c>) only, on a snapshot of their own: a new
    /// random key that authenticates as key <paramref name="id"/>, as a test token is signed with a key the runner
    /// trusts. Null when the set has no such id. The server never calls it.
    /// </summary>
    public string? TrustForTesting(string id)
    {
        if (Keys.FirstOrDefault(k => k.Id == id) is not { } key)
        {
            return null;
        }

        var text = "sidecars-test-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        var byHash = new Dictionary<ulong, ApiKey[]>(_byHash);
        var slot = BinaryPrimitives.ReadUInt64LittleEndian(hash);
        byHash[slot] = [.. byHash.GetValueOrDefault(slot) ?? [], new ApiKey(id, hash, key.Identity)];
        Volatile.Write(ref _byHash, byHash);
        return text;
    }

    /// <summary>SHA-256 of a key as <c>sidecars</c> prints it for config: 64 lower-case hex digits.</summary>
    public static string HashOf(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
