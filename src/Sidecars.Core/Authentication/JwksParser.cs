using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>
/// Reads a JSON Web Key Set (RFC 7517): RSA and EC public keys for signatures. Symmetric (<c>oct</c>) keys
/// are refused here, since a shared secret must never come from a fetched document; keys meant for
/// encryption (<c>use: enc</c>) and unknown key types are skipped. Bounded: a size cap and a key count cap.
/// </summary>
public static class JwksParser
{
    public const int MaxKeys = 100;

    /// <param name="json">The JWKS document.</param>
    /// <param name="skipped">Why each unusable key was left out.</param>
    /// <param name="allowSymmetric">True only for keys from local config, where an HMAC secret may live.</param>
    public static IReadOnlyList<SigningKey> Parse(ReadOnlySpan<byte> json, out IReadOnlyList<string> skipped, bool allowSymmetric = false)
    {
        var notes = new List<string>();
        skipped = notes;
        using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 16 });
        if (document.RootElement.ValueKind != JsonValueKind.Object ||
            !document.RootElement.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            throw new FormatException("a JWKS is a JSON object with a 'keys' array");
        }

        var result = new List<SigningKey>();
        foreach (var key in keys.EnumerateArray())
        {
            if (result.Count == MaxKeys)
            {
                notes.Add($"more than {MaxKeys} keys: the rest are ignored");
                break;
            }

            var kid = Text(key, "kid");
            if (Text(key, "use") is { } use && use != "sig")
            {
                notes.Add($"key '{kid}' is for '{use}', not signatures");
                continue;
            }

            switch (Text(key, "kty"))
            {
                case "RSA":
                    var modulus = Bytes(key, "n");
                    var exponent = Bytes(key, "e");
                    if (modulus is null || exponent is null || modulus.Length < 256)
                    {
                        notes.Add($"RSA key '{kid}' has no n/e or is shorter than 2048 bits");
                        continue;
                    }

                    result.Add(SigningKey.FromRsa(kid, new RSAParameters { Modulus = modulus, Exponent = exponent }, Text(key, "alg")));
                    break;
                case "EC":
                    var curve = Text(key, "crv");
                    ECCurve? named = curve switch
                    {
                        "P-256" => ECCurve.NamedCurves.nistP256,
                        "P-384" => ECCurve.NamedCurves.nistP384,
                        "P-521" => ECCurve.NamedCurves.nistP521,
                        _ => null,
                    };
                    var x = Bytes(key, "x");
                    var y = Bytes(key, "y");
                    if (named is null || x is null || y is null)
                    {
                        notes.Add($"EC key '{kid}' has an unsupported curve or no x/y");
                        continue;
                    }

                    try
                    {
                        result.Add(SigningKey.FromEc(kid, curve!, new ECParameters { Curve = named.Value, Q = new ECPoint { X = x, Y = y } }, Text(key, "alg")));
                    }
                    catch (CryptographicException)
                    {
                        notes.Add($"EC key '{kid}' is not a point on {curve}");
                    }

                    break;
                case "oct" when allowSymmetric && Bytes(key, "k") is { Length: >= 32 } secret:
                    result.Add(SigningKey.FromSecret(kid, secret, Text(key, "alg")));
                    break;
                case "oct":
                    notes.Add(allowSymmetric
                        ? $"symmetric key '{kid}' has no 'k' of at least 256 bits"
                        : $"symmetric key '{kid}' refused: secrets are configured locally, never fetched");
                    break;
                case var other:
                    notes.Add($"key '{kid}' has unsupported kty '{other}'");
                    break;
            }
        }

        return result;
    }

    private static string? Text(JsonElement key, string name) =>
        key.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static byte[]? Bytes(JsonElement key, string name)
    {
        var text = Text(key, name);
        if (text is null || !Base64Url.IsValid(text, out var length))
        {
            return null;
        }

        var bytes = new byte[length];
        return Base64Url.TryDecodeFromChars(text, bytes, out var written) && written == length ? bytes : null;
    }
}
