using System.Security.Cryptography;

namespace Sidecars.Authentication;

/// <summary>
/// One verification key from a JWKS or a local secret, with what it may verify: its key type fixes the
/// algorithm family, and a JWK <c>alg</c> narrows it to one algorithm (no algorithm confusion).
/// </summary>
public sealed class SigningKey : IDisposable
{
    private SigningKey(string? keyId, string keyType, string? algorithm, RSA? rsa, ECDsa? ec, string? curve, byte[]? secret, byte[] material)
    {
        Thumbprint = Convert.ToHexStringLower(SHA256.HashData(material));
        KeyId = keyId;
        KeyType = keyType;
        Algorithm = algorithm;
        Rsa = rsa;
        Ec = ec;
        Curve = curve;
        Secret = secret;
    }

    public string? KeyId { get; }

    /// <summary>SHA-256 of the key material: a refreshed JWKS keeps the same instance for an unchanged key, so its cached tokens stay valid.</summary>
    public string Thumbprint { get; }

    /// <summary>Same kid, type, algorithm and material.</summary>
    public bool SameAs(SigningKey other) =>
        KeyId == other.KeyId && KeyType == other.KeyType && Algorithm == other.Algorithm && Curve == other.Curve && Thumbprint == other.Thumbprint;

    /// <summary><c>RSA</c>, <c>EC</c> or <c>oct</c>.</summary>
    public string KeyType { get; }

    /// <summary>The JWK's <c>alg</c>, when it names one: then only that algorithm is accepted.</summary>
    public string? Algorithm { get; }

    internal RSA? Rsa { get; }

    internal ECDsa? Ec { get; }

    /// <summary><c>P-256</c>, <c>P-384</c> or <c>P-521</c> for EC keys.</summary>
    public string? Curve { get; }

    internal byte[]? Secret { get; }

    public static SigningKey FromRsa(string? keyId, RSAParameters parameters, string? algorithm = null)
    {
        var rsa = RSA.Create();
        rsa.ImportParameters(parameters);
        return new SigningKey(keyId, "RSA", algorithm, rsa, null, null, null, [.. parameters.Modulus!, .. parameters.Exponent!]);
    }

    public static SigningKey FromEc(string? keyId, string curve, ECParameters parameters, string? algorithm = null) =>
        new(keyId, "EC", algorithm, null, ECDsa.Create(parameters), curve, null, [.. parameters.Q.X!, .. parameters.Q.Y!]);

    /// <summary>An HMAC secret, only ever from local config: a shared secret is never fetched.</summary>
    public static SigningKey FromSecret(string? keyId, byte[] secret, string? algorithm = null) =>
        new(keyId, "oct", algorithm, null, null, null, secret, secret);

    /// <summary>Whether this key may verify a token signed with <paramref name="algorithm"/>.</summary>
    public bool Accepts(string algorithm)
    {
        if (Algorithm is not null && !string.Equals(Algorithm, algorithm, StringComparison.Ordinal))
        {
            return false;
        }

        return algorithm switch
        {
            "RS256" or "RS384" or "RS512" or "PS256" or "PS384" or "PS512" => Rsa is not null,
            "ES256" => Ec is not null && Curve == "P-256",
            "ES384" => Ec is not null && Curve == "P-384",
            "ES512" => Ec is not null && Curve == "P-521",
            // RFC 7518 §3.2: an HMAC key at least as long as the hash output.
            "HS256" => Secret is { Length: >= 32 },
            "HS384" => Secret is { Length: >= 48 },
            "HS512" => Secret is { Length: >= 64 },
            _ => false,
        };
    }

    /// <summary>Verifies a JWS signature over <paramref name="signingInput"/> (the ASCII header.payload).</summary>
    public bool Verify(string algorithm, ReadOnlySpan<byte> signingInput, ReadOnlySpan<byte> signature)
    {
        switch (algorithm)
        {
            case "RS256":
                return Rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            case "RS384":
                return Rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pkcs1);
            case "RS512":
                return Rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1);
            case "PS256":
                return Rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pss);
            case "PS384":
                return Rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
            case "PS512":
                return Rsa!.VerifyData(signingInput, signature, HashAlgorithmName.SHA512, RSASignaturePadding.Pss);
            case "ES256":
                return Ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA256);
            case "ES384":
                return Ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA384);
            case "ES512":
                return Ec!.VerifyData(signingInput, signature, HashAlgorithmName.SHA512);
            case "HS256" or "HS384" or "HS512":
                Span<byte> mac = stackalloc byte[64];
                var length = algorithm switch
                {
                    "HS256" => HMACSHA256.HashData(Secret, signingInput, mac),
                    "HS384" => HMACSHA384.HashData(Secret, signingInput, mac),
                    _ => HMACSHA512.HashData(Secret, signingInput, mac),
                };
                return CryptographicOperations.FixedTimeEquals(mac[..length], signature);
            default:
                return false;
        }
    }

    public void Dispose()
    {
        Rsa?.Dispose();
        Ec?.Dispose();
    }
}
