using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>
/// Validates a compact JWS (RFC 7515/7519) against a key set, with the RFC 8725 hardening: size cap before
/// anything else, no JWE, no <c>alg: none</c>, the algorithm bound to the key's type (and its JWK <c>alg</c>),
/// no <c>crit</c>, header-supplied keys (<c>jku</c>, <c>x5u</c>, <c>jwk</c>) never used, duplicate JSON
/// members refused, then issuer, audience and time claims with clock skew. Signatures are checked before
/// claims, so an unsigned token learns nothing about the policy.
/// Hostile input is a typed <see cref="JwtFailure"/>, never an exception (issue 7): header and payload must be
/// I-JSON (RFC 7493: valid Unicode, numbers within IEEE double), so every later read of a string or number of
/// the token (scopes, claim headers, metadata) is safe, and time arithmetic saturates instead of overflowing.
/// </summary>
public static class JwtValidator
{
    /// <summary>
    /// The most signature verifications one token may cost. A token without <c>kid</c> (or a key set with
    /// keys without <c>kid</c>) is tried only against keys whose type and <c>alg</c> fit the token's
    /// <c>alg</c>, in key-set order, and at most this many: without a bound, a set of 100 RSA keys made every
    /// kid-less token cost 100 RSA verifies (issue 7, finding 8). Issuers with more keys of one type send <c>kid</c>.
    /// </summary>
    public const int MaxVerifications = 3;

    private static readonly SearchValues<char> PrintableAscii =
        SearchValues.Create(" !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    private static readonly string[] Supported =
        ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512"];

    public static bool TryValidate(
        string token,
        IReadOnlyList<SigningKey> keys,
        JwtValidationOptions options,
        DateTimeOffset now,
        out ValidatedToken? validated,
        out JwtFailure failure)
    {
        validated = null;
        if (token.Length > options.MaxTokenLength)
        {
            failure = JwtFailure.Invalid($"token is longer than {options.MaxTokenLength} characters");
            return false;
        }

        var dots = token.AsSpan().Count('.');
        if (dots == 4)
        {
            failure = JwtFailure.Invalid("encrypted tokens (JWE) are not accepted");
            return false;
        }

        if (dots != 2)
        {
            failure = JwtFailure.Invalid("token is not a compact JWS of three segments");
            return false;
        }

        var first = token.IndexOf('.', StringComparison.Ordinal);
        var second = token.IndexOf('.', first + 1);
        var headerText = token.AsSpan(0, first);
        var payloadText = token.AsSpan(first + 1, second - first - 1);
        var signatureText = token.AsSpan(second + 1);
        // An empty signature still parses, so that an unsigned (alg none) token is refused for what it is.
        if (!TryDecode(headerText, out var header) || !TryDecode(payloadText, out var payload) || (signatureText.Length > 0 && !TryDecode(signatureText, out _)))
        {
            failure = JwtFailure.Invalid("token segments are not base64url");
            return false;
        }

        if (!JwtJson.TryParseObject(header, "header", out var headerDocument, out failure))
        {
            return false;
        }

        using (headerDocument)
        {
            if (!CheckHeader(headerDocument!.RootElement, options, out var algorithm, out var keyId, out failure))
            {
                return false;
            }

            // The signing input is the ASCII of the first two segments as sent.
            var signingInput = Encoding.ASCII.GetBytes(token, 0, second);
            TryDecode(signatureText, out var signature);
            if (!VerifySignature(keys, algorithm, keyId, signingInput, signature, out var verifiedBy, out failure))
            {
                return false;
            }

            if (!JwtJson.TryParseObject(payload, "payload", out var payloadDocument, out failure))
            {
                return false;
            }

            using (payloadDocument)
            {
                var claims = payloadDocument!.RootElement;
                if (!CheckClaims(claims, options, now, out var expires, out failure))
                {
                    return false;
                }

                // The key's own kid string when they match (they do when the kid chose the key): one string less per cached token.
                var sharedKeyId = verifiedBy?.KeyId is { } verifiedKid && string.Equals(verifiedKid, keyId, StringComparison.Ordinal) ? verifiedKid : keyId;
                validated = new ValidatedToken(algorithm, sharedKeyId, claims.Clone(), expires, verifiedBy);
                return true;
            }
        }
    }

    private static bool CheckHeader(JsonElement header, JwtValidationOptions options, out string algorithm, out string? keyId, out JwtFailure failure)
    {
        algorithm = string.Empty;
        keyId = null;
        if (!header.TryGetProperty("alg", out var alg) || alg.ValueKind != JsonValueKind.String)
        {
            failure = JwtFailure.Invalid("token header has no alg");
            return false;
        }

        algorithm = alg.GetString()!;
        if (algorithm.Equals("none", StringComparison.OrdinalIgnoreCase))
        {
            failure = JwtFailure.Invalid("unsigned tokens (alg none) are not accepted");
            return false;
        }

        var supported = Array.IndexOf(Supported, algorithm);
        if (supported < 0)
        {
            failure = JwtFailure.Invalid($"algorithm '{Printable(algorithm)}' is not supported");
            return false;
        }

        // The shared instance, not this token's copy: a cached token keeps no string of its own for it.
        algorithm = Supported[supported];

        if (header.TryGetProperty("crit", out _))
        {
            failure = JwtFailure.Invalid("token header has crit parameters, which are not supported");
            return false;
        }

        if (header.TryGetProperty("kid", out var kid))
        {
            if (kid.ValueKind != JsonValueKind.String)
            {
                failure = JwtFailure.Invalid("token header kid is not a string");
                return false;
            }

            keyId = kid.GetString();
        }

        if (options.RequiredType is { } required)
        {
            var type = header.TryGetProperty("typ", out var typ) && typ.ValueKind == JsonValueKind.String ? typ.GetString()! : string.Empty;

            // RFC 7515 §4.1.9: "application/" may be left out of a media type.
            if (type.StartsWith("application/", StringComparison.OrdinalIgnoreCase))
            {
                type = type["application/".Length..];
            }

            if (!type.Equals(required, StringComparison.OrdinalIgnoreCase))
            {
                failure = JwtFailure.Invalid($"token type must be '{required}'");
                return false;
            }
        }

        failure = default;
        return true;
    }

    private static bool VerifySignature(IReadOnlyList<SigningKey> keys, string algorithm, string? keyId, byte[] signingInput, byte[] signature, out SigningKey? verifiedBy, out JwtFailure failure)
    {
        verifiedBy = null;
        var candidates = 0;
        var sameKeyId = 0;

        // With a kid: the keys of that kid first, then keys without a kid; without one: every key. Either way
        // only keys that fit the alg are tried, and at most MaxVerifications of them.
        for (var pass = keyId is null ? 1 : 0; pass < 2; pass++)
        {
            for (var i = 0; i < keys.Count && candidates < MaxVerifications; i++)
            {
                var key = keys[i];
                var matches = keyId is null || (pass == 0 ? key.KeyId == keyId : key.KeyId is null);
                if (!matches)
                {
                    continue;
                }

                sameKeyId++;
                if (!key.Accepts(algorithm))
                {
                    continue;
                }

                candidates++;
                if (Verify(key, algorithm, signingInput, signature))
                {
                    verifiedBy = key;
                    failure = default;
                    return true;
                }
            }
        }

        failure = candidates > 0
            ? JwtFailure.BadSignature("signature verification failed")
            : keyId is not null && sameKeyId == 0
                ? JwtFailure.UnknownKey($"no key with kid '{Printable(keyId)}'")
                : JwtFailure.Invalid($"no key accepts algorithm {algorithm}");
        return false;
    }

    /// <summary>A key that cannot verify this signature (e.g. PSS with a too small modulus) refuses it rather than throwing.</summary>
    private static bool Verify(SigningKey key, string algorithm, byte[] signingInput, byte[] signature)
    {
        try
        {
            return key.Verify(algorithm, signingInput, signature);
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary><paramref name="time"/> + <paramref name="span"/>, held at the ends of the calendar instead of throwing.</summary>
    public static DateTimeOffset SaturatingAdd(DateTimeOffset time, TimeSpan span)
    {
        var ticks = (Int128)time.UtcTicks + span.Ticks;
        return ticks >= DateTimeOffset.MaxValue.UtcTicks ? DateTimeOffset.MaxValue
            : ticks <= DateTimeOffset.MinValue.UtcTicks ? DateTimeOffset.MinValue
            : new DateTimeOffset((long)ticks, TimeSpan.Zero);
    }

    private static bool CheckClaims(JsonElement claims, JwtValidationOptions options, DateTimeOffset now, out DateTimeOffset? expires, out JwtFailure failure)
    {
        expires = null;
        if (options.Issuer is { } issuer &&
            !(claims.TryGetProperty("iss", out var iss) && iss.ValueKind == JsonValueKind.String && iss.ValueEquals(issuer)))
        {
            failure = JwtFailure.Invalid("issuer is not accepted");
            return false;
        }

        var skew = options.ClockSkew.Ticks;
        if (!TryTime(claims, "exp", out var exp, out failure) || !TryTime(claims, "nbf", out var nbf, out failure) || !TryTime(claims, "iat", out var iat, out failure))
        {
            return false;
        }

        if (exp is null && options.RequireExpiration)
        {
            failure = JwtFailure.Invalid("token has no exp");
            return false;
        }

        // Compared in 128-bit ticks: exp + skew at the end of year 9999 (or a huge skew) must not overflow.
        if (exp is { } expiry && (Int128)now.UtcTicks > (Int128)expiry.UtcTicks + skew)
        {
            failure = JwtFailure.Invalid("token is expired");
            return false;
        }

        if (nbf is { } notBefore && (Int128)now.UtcTicks + skew < notBefore.UtcTicks)
        {
            failure = JwtFailure.Invalid("token is not valid yet");
            return false;
        }

        if (iat is { } issuedAt && (Int128)now.UtcTicks + skew < issuedAt.UtcTicks)
        {
            failure = JwtFailure.Invalid("token is issued in the future");
            return false;
        }

        if (options.MaxLifetime is { } maxLifetime && exp is { } end && (Int128)end.UtcTicks - (iat ?? now).UtcTicks > maxLifetime.Ticks)
        {
            failure = JwtFailure.Invalid($"token lifetime exceeds {maxLifetime}");
            return false;
        }

        if (options.Audiences.Count > 0 && !HasAudience(claims, options.Audiences))
        {
            failure = JwtFailure.Scope("audience is not accepted");
            return false;
        }

        expires = exp;
        failure = default;
        return true;
    }

    /// <summary><c>aud</c> as a string or an array of strings, any one of which is accepted.</summary>
    public static bool HasAudience(JsonElement claims, IReadOnlyList<string> accepted)
    {
        if (!claims.TryGetProperty("aud", out var aud))
        {
            return false;
        }

        // Loops, not LINQ: this runs on every cached decision of a route with audiences, and a closure allocates.
        if (aud.ValueKind == JsonValueKind.String)
        {
            return Accepts(aud, accepted);
        }

        if (aud.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in aud.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String && Accepts(item, accepted))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool Accepts(JsonElement audience, IReadOnlyList<string> accepted)
    {
        for (var i = 0; i < accepted.Count; i++)
        {
            if (audience.ValueEquals(accepted[i]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A NumericDate claim (seconds since the epoch; fractions allowed) or its absence.</summary>
    private static bool TryTime(JsonElement claims, string name, out DateTimeOffset? time, out JwtFailure failure)
    {
        time = null;
        failure = default;
        if (!claims.TryGetProperty(name, out var value))
        {
            return true;
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetDouble(out var seconds) || double.IsNaN(seconds) || seconds < 0 || seconds > 253_402_300_799)
        {
            failure = JwtFailure.Invalid($"claim {name} is not a NumericDate");
            return false;
        }

        time = DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
        return true;
    }

    private static bool TryDecode(ReadOnlySpan<char> text, out byte[] bytes)
    {
        bytes = [];
        if (text.Length == 0 || !Base64Url.IsValid(text, out var length))
        {
            return false;
        }

        bytes = new byte[length];
        return Base64Url.TryDecodeFromChars(text, bytes, out var written) && written == length;
    }

    /// <summary>Attacker-supplied text in a reason: short and printable ASCII only.</summary>
    internal static string Printable(string text)
    {
        var span = text.AsSpan(0, Math.Min(text.Length, 64));
        return span.ContainsAnyExcept(PrintableAscii) ? "(unprintable)" : span.ToString();
    }
}
