using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Sidecars.Authentication;

/// <summary>
/// The SHA-256 of a token's text, the key of <see cref="TokenCache"/>: 32 bytes held inline in the cache's
/// dictionary node, so the cache keeps no copy of the token (a 620-character JWT is 1.26 KB as a .NET string).
/// </summary>
/// <remarks>
/// A cryptographic hash, never a fast one: a hit hands out the validated token of whoever's token hashed the
/// same, so a crafted collision would be an impersonation; with SHA-256 finding one is out of reach. Hashed
/// from the span as ASCII narrowed on the stack (a JWT is base64url and dots), about 0.5 µs for a 620-character
/// token on a CPU with SHA extensions — against the hundreds of microseconds of the RSA verify a hit saves.
/// </remarks>
internal readonly struct TokenHash : IEquatable<TokenHash>
{
    // Longer tokens are narrowed into a pooled buffer; the validator's MaxTokenLength keeps them rare.
    private const int StackLimit = 4096;

    private readonly ulong _a;
    private readonly ulong _b;
    private readonly ulong _c;
    private readonly ulong _d;

    private TokenHash(ReadOnlySpan<byte> digest)
    {
        _a = BinaryPrimitives.ReadUInt64LittleEndian(digest);
        _b = BinaryPrimitives.ReadUInt64LittleEndian(digest[8..]);
        _c = BinaryPrimitives.ReadUInt64LittleEndian(digest[16..]);
        _d = BinaryPrimitives.ReadUInt64LittleEndian(digest[24..]);
    }

    /// <summary>
    /// The hash of <paramref name="token"/>, or false when it holds a character beyond ASCII: such a text is not a
    /// compact JWS (never validated, never cached), and narrowing it would make two texts one.
    /// </summary>
    public static bool TryCompute(ReadOnlySpan<char> token, out TokenHash hash)
    {
        byte[]? rented = null;
        var ascii = token.Length <= StackLimit ? stackalloc byte[token.Length] : (rented = ArrayPool<byte>.Shared.Rent(token.Length));
        try
        {
            if (Ascii.FromUtf16(token, ascii, out var written) != OperationStatus.Done)
            {
                hash = default;
                return false;
            }

            Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(ascii[..written], digest);
            hash = new TokenHash(digest);
            return true;
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public bool Equals(TokenHash other) => _a == other._a && _b == other._b && _c == other._c && _d == other._d;

    public override bool Equals(object? obj) => obj is TokenHash other && Equals(other);

    // Any 32 bits of a SHA-256 are as good as any other, and a cached token was signed by its issuer: no one grinds buckets.
    public override int GetHashCode() => (int)_a;

    public static bool operator ==(TokenHash left, TokenHash right) => left.Equals(right);

    public static bool operator !=(TokenHash left, TokenHash right) => !left.Equals(right);
}
