using System.Buffers;
using System.Buffers.Text;
using System.Numerics;
using System.Security.Cryptography;
using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>
/// One JWK (RFC 7517 §4, RFC 7518 §6) to a <see cref="SigningKey"/>, or the reason it is unusable. Reads every
/// member defensively (wrong JSON types, lone surrogates, duplicate members) and checks the key itself:
/// <list type="bullet">
/// <item>RSA: the modulus's bit length after leading zero bytes, 2048 to 16384 bits (OpenSSL's
/// <c>OPENSSL_RSA_MAX_MODULUS_BITS</c>: a larger one only costs verify time); the exponent odd and
/// 2^16 &lt; e &lt; 2^256, as NIST SP 800-89 §5.3.3 requires of a public key.</item>
/// <item>EC: P-256/384/521, coordinates of exactly the curve's size (RFC 7518 §6.2.1.2), a point on the curve.</item>
/// <item>oct (local only): at least 256 bits, and at least the hash size of its <c>alg</c> (RFC 7518 §3.2).</item>
/// <item><c>alg</c>, when given, supported and of the key's family; <c>use</c> <c>sig</c> and <c>key_ops</c>
/// with <c>verify</c> when given; a fetched document never holds a private key.</item>
/// </list>
/// </summary>
internal static class JwkReader
{
    private const int MinRsaBits = 2048;
    private const int MaxRsaBits = 16384;

    private static readonly SearchValues<char> PrintableAscii =
        SearchValues.Create(" !#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private static readonly string[] RsaAlgorithms = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
    private static readonly string[] EcAlgorithms = ["ES256", "ES384", "ES512"];
    private static readonly string[] HmacAlgorithms = ["HS256", "HS384", "HS512"];

    /// <summary>"key 3" or "key 3 (kid 'k3')"; a kid that is not short printable ASCII is not repeated.</summary>
    public static string Label(int index, string? kid) =>
        kid is null ? $"key {index}" : $"key {index} (kid '{Printable(kid)}')";

    /// <summary>Text from a key set in a reason: at most 64 printable ASCII characters.</summary>
    public static string Printable(string text) =>
        text.Length > 64 || text.AsSpan().ContainsAnyExcept(PrintableAscii) ? "(unprintable)" : text;

    /// <summary>The (printable) name of a member the object repeats, else null: which one would win is a guess, so neither does.</summary>
    public static string? DuplicateMember(JsonElement element)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        try
        {
            foreach (var property in element.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    return Printable(property.Name);
                }
            }
        }
        catch (InvalidOperationException)
        {
            return "(not valid UTF-16)";
        }

        return null;
    }

    public static SigningKey? Read(JsonElement key, int index, bool local, out string? error)
    {
        var label = $"key {index}";
        if (key.ValueKind != JsonValueKind.Object)
        {
            error = $"{label}: not a JSON object";
            return null;
        }

        if (DuplicateMember(key) is { } duplicate)
        {
            var named = TryText(key, "kid", out var kid0, out _) ? Label(index, kid0) : label;
            error = $"{named}: member '{duplicate}' appears twice";
            return null;
        }

        if (!TryText(key, "kid", out var kid, out error))
        {
            error = $"{label}: {error}";
            return null;
        }

        label = Label(index, kid);
        var result = ReadKey(key, kid, local, out error);
        if (result is null)
        {
            error = $"{label}: {error}";
        }

        return result;
    }

    private static SigningKey? ReadKey(JsonElement key, string? kid, bool local, out string? error)
    {
        if (!TryText(key, "use", out var use, out error) || !TryText(key, "kty", out var kty, out error) || !TryText(key, "alg", out var alg, out error))
        {
            return null;
        }

        if (use is not null && use != "sig")
        {
            error = $"use '{Printable(use)}' is not for signatures";
            return null;
        }

        if (key.TryGetProperty("key_ops", out var ops) && !AllowsVerify(ops))
        {
            error = "key_ops does not include 'verify'";
            return null;
        }

        if (kty is null)
        {
            error = "no kty";
            return null;
        }

        var family = kty switch
        {
            "RSA" => RsaAlgorithms,
            "EC" => EcAlgorithms,
            "oct" => HmacAlgorithms,
            _ => null,
        };
        if (family is null)
        {
            error = $"kty '{Printable(kty)}' is not supported";
            return null;
        }

        if (alg is not null && Array.IndexOf(family, alg) < 0)
        {
            var known = Array.IndexOf(RsaAlgorithms, alg) >= 0 || Array.IndexOf(EcAlgorithms, alg) >= 0 || Array.IndexOf(HmacAlgorithms, alg) >= 0;
            error = known ? $"alg '{alg}' does not fit kty '{kty}'" : $"alg '{Printable(alg)}' is not supported";
            return null;
        }

        if (!local && kty != "oct" && key.TryGetProperty("d", out _))
        {
            error = "holds a private key ('d'): a published private key is compromised, refused";
            return null;
        }

        return kty switch
        {
            "RSA" => ReadRsa(key, kid, alg, out error),
            "EC" => ReadEc(key, kid, alg, out error),
            _ => ReadSecret(key, kid, alg, local, out error),
        };
    }

    private static SigningKey? ReadRsa(JsonElement key, string? kid, string? alg, out string? error)
    {
        if (!TryBytes(key, "RSA", "n", out var modulus, out error) || !TryBytes(key, "RSA", "e", out var exponent, out error))
        {
            return null;
        }

        // Leading zero bytes carry no bits: a 1024-bit modulus padded to 256 bytes is still 1024 bits.
        modulus = TrimLeadingZeros(modulus!);
        exponent = TrimLeadingZeros(exponent!);
        var bits = BitLength(modulus);
        if (bits < MinRsaBits)
        {
            error = $"RSA modulus is {bits} bits, at least {MinRsaBits} required";
            return null;
        }

        if (bits > MaxRsaBits)
        {
            error = $"RSA modulus is {bits} bits, at most {MaxRsaBits} accepted";
            return null;
        }

        if ((modulus[^1] & 1) == 0)
        {
            error = "RSA modulus is even";
            return null;
        }

        if (exponent.Length == 0)
        {
            error = "RSA exponent e is empty";
            return null;
        }

        // Odd, and 2^16 < e < 2^256: at least 3 bytes (65537 = 01 00 01), at most 32; [1,0,0] = 2^16 is even.
        if ((exponent[^1] & 1) == 0 || exponent.Length < 3 || exponent.Length > 32)
        {
            error = "RSA exponent e must be odd and between 2^16 and 2^256 (NIST SP 800-89)";
            return null;
        }

        try
        {
            return SigningKey.FromRsa(kid, new RSAParameters { Modulus = modulus, Exponent = exponent }, alg);
        }
        catch (CryptographicException)
        {
            error = "RSA key cannot be imported";
            return null;
        }
    }

    private static SigningKey? ReadEc(JsonElement key, string? kid, string? alg, out string? error)
    {
        if (!TryText(key, "crv", out var curve, out error))
        {
            return null;
        }

        (ECCurve Curve, int Size, string Alg)? named = curve switch
        {
            "P-256" => (ECCurve.NamedCurves.nistP256, 32, "ES256"),
            "P-384" => (ECCurve.NamedCurves.nistP384, 48, "ES384"),
            "P-521" => (ECCurve.NamedCurves.nistP521, 66, "ES512"),
            _ => null,
        };
        if (named is not { } spec)
        {
            error = curve is null ? "EC key has no crv" : $"crv '{Printable(curve)}' is not supported";
            return null;
        }

        if (alg is not null && alg != spec.Alg)
        {
            error = $"alg '{alg}' does not fit crv '{curve}'";
            return null;
        }

        if (!TryBytes(key, "EC", "x", out var x, out error) || !TryBytes(key, "EC", "y", out var y, out error))
        {
            return null;
        }

        foreach (var (name, coordinate) in (ReadOnlySpan<(string, byte[])>)[("x", x!), ("y", y!)])
        {
            if (coordinate.Length != spec.Size)
            {
                error = $"EC {name} is {coordinate.Length} bytes, {curve} needs {spec.Size}";
                return null;
            }
        }

        try
        {
            return SigningKey.FromEc(kid, curve!, new ECParameters { Curve = spec.Curve, Q = new ECPoint { X = x, Y = y } }, alg);
        }
        catch (CryptographicException)
        {
            error = $"EC point is not on {curve}";
            return null;
        }
    }

    private static SigningKey? ReadSecret(JsonElement key, string? kid, string? alg, bool local, out string? error)
    {
        if (!local)
        {
            error = "symmetric key refused: secrets are configured locally, never fetched";
            return null;
        }

        if (!TryBytes(key, "HMAC", "k", out var secret, out error))
        {
            return null;
        }

        var bits = secret!.Length * 8;
        var required = alg switch
        {
            "HS384" => 384,
            "HS512" => 512,
            _ => 256,
        };
        if (bits < 256)
        {
            error = $"HMAC key of {bits} bits is under 256";
            return null;
        }

        if (bits < required)
        {
            error = $"HMAC key of {bits} bits is under {required} for {alg}";
            return null;
        }

        return SigningKey.FromSecret(kid, secret, alg);
    }

    private static bool AllowsVerify(JsonElement ops)
    {
        if (ops.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (var op in ops.EnumerateArray())
        {
            if (op.ValueKind == JsonValueKind.String && op.ValueEquals("verify"))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An optional string member: absent is null; another JSON type or a lone surrogate is an error.</summary>
    private static bool TryText(JsonElement key, string name, out string? value, out string? error)
    {
        value = null;
        error = null;
        if (!key.TryGetProperty(name, out var element) || (element.ValueKind == JsonValueKind.Null && name != "kty"))
        {
            return true;
        }

        if (element.ValueKind != JsonValueKind.String)
        {
            error = $"{name} is not a string";
            return false;
        }

        try
        {
            value = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            // "\ud800": a lone surrogate escape has no UTF-16 string.
            error = $"{name} is not valid UTF-16";
            return false;
        }
    }

    private static bool TryBytes(JsonElement key, string what, string name, out byte[]? bytes, out string? error)
    {
        bytes = null;
        if (!TryText(key, name, out var text, out error))
        {
            return false;
        }

        if (text is null)
        {
            error = $"{what} key has no '{name}'";
            return false;
        }

        if (!Base64Url.IsValid(text, out var length))
        {
            error = $"{what} {name} is not base64url";
            return false;
        }

        bytes = new byte[length];
        if (!Base64Url.TryDecodeFromChars(text, bytes, out var written) || written != length)
        {
            error = $"{what} {name} is not base64url";
            return false;
        }

        return true;
    }

    private static byte[] TrimLeadingZeros(byte[] value)
    {
        var first = Array.FindIndex(value, b => b != 0);
        return first < 0 ? [] : first == 0 ? value : value[first..];
    }

    private static int BitLength(byte[] trimmed) =>
        trimmed.Length == 0 ? 0 : ((trimmed.Length - 1) * 8) + (32 - BitOperations.LeadingZeroCount((uint)trimmed[0]));
}
