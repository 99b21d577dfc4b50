using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Sidecars.Authentication;
using static Sidecars.Tests.Authentication.TestTokens;

namespace Sidecars.Tests.Authentication;

/// <summary>Each validation rule and each RFC 8725 attack as its own test.</summary>
public sealed class JwtValidatorTests
{
    private static readonly JwtValidationOptions Options = new()
    {
        Issuer = "https://idp.example.com/",
        Audiences = ["orders-api"],
        ClockSkew = TimeSpan.FromSeconds(60),
        MaxLifetime = TimeSpan.FromHours(24),
    };

    private static (bool Ok, JwtFailure Failure, ValidatedToken? Token) Validate(string token, IReadOnlyList<SigningKey>? keys = null, JwtValidationOptions? options = null, DateTimeOffset? now = null)
    {
        var ok = JwtValidator.TryValidate(token, keys ?? [RsaKey(), EcKey()], options ?? Options, now ?? Now, out var validated, out var failure);
        return (ok, failure, validated);
    }

    private static void Refused(string token, string reason, IReadOnlyList<SigningKey>? keys = null, JwtValidationOptions? options = null, JwtFailureKind kind = JwtFailureKind.InvalidToken)
    {
        var (ok, failure, _) = Validate(token, keys, options);
        Assert.False(ok);
        Assert.Equal(kind, failure.Kind);
        Assert.Equal(reason, failure.Description);
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("RS512")]
    [InlineData("PS256")]
    [InlineData("ES256")]
    public void Valid_asymmetric_tokens_are_accepted(string alg)
    {
        var kid = alg.StartsWith("ES", StringComparison.Ordinal) ? "ec-1" : "rsa-1";
        var (ok, _, token) = Validate(Sign($$"""{"alg":"{{alg}}","kid":"{{kid}}"}""", Claims(), alg));
        Assert.True(ok);
        Assert.Equal("user-1", token!.Subject);
        Assert.Equal(alg, token.Algorithm);
    }

    [Fact]
    public void Hmac_token_is_accepted_with_a_local_secret()
    {
        var (ok, _, _) = Validate(Sign("""{"alg":"HS256"}""", Claims(), "HS256"), [SigningKey.FromSecret(null, Secret)]);
        Assert.True(ok);
    }

    [Theory]
    [InlineData("none")]
    [InlineData("None")]
    [InlineData("NONE")]
    [InlineData("nOnE")]
    public void Alg_none_is_refused_in_any_casing(string alg) =>
        Refused(B64($$"""{"alg":"{{alg}}"}""") + "." + B64(Claims()) + ".", "unsigned tokens (alg none) are not accepted");

    [Fact]
    public void Hmac_token_keyed_with_the_rsa_public_key_is_refused()
    {
        // The classic confusion: HMAC over the token with the RSA public key's bytes as the secret.
        var publicKey = Rsa.ExportSubjectPublicKeyInfo();
        var input = B64("""{"alg":"HS256","kid":"rsa-1"}""") + "." + B64(Claims());
        var token = input + "." + Base64Url.EncodeToString(HMACSHA256.HashData(publicKey, Encoding.ASCII.GetBytes(input)));
        Refused(token, "no key accepts algorithm HS256");
    }

    [Fact]
    public void Header_algorithm_must_match_the_jwk_alg()
    {
        var pssOnly = RsaKey(alg: "PS256");
        Refused(Rs256(), "no key accepts algorithm RS256", [pssOnly]);
    }

    [Fact]
    public void Ec_token_on_the_wrong_curve_is_refused() =>
        Refused(Sign("""{"alg":"ES384","kid":"ec-1"}""", Claims(), "ES384"), "no key accepts algorithm ES384");

    [Fact]
    public void Crit_header_is_refused() =>
        Refused(Sign("""{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}""", Claims(), "RS256"), "token header has crit parameters, which are not supported");

    [Fact]
    public void Header_supplied_keys_are_never_used()
    {
        // Signed by an attacker's key, which the header offers as jwk, jku and x5u: only the key set counts.
        using var attacker = RSA.Create(2048);
        var p = attacker.ExportParameters(false);
        var header = $$$"""{"alg":"RS256","kid":"rsa-1","jku":"https://evil.example/jwks","x5u":"https://evil.example/cert","jwk":{"kty":"RSA","n":"{{{Base64Url.EncodeToString(p.Modulus)}}}","e":"AQAB"}}""";
        var input = B64(header) + "." + B64(Claims());
        var token = input + "." + Base64Url.EncodeToString(attacker.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
        Refused(token, "signature verification failed");
    }

    [Fact]
    public void Tampered_payload_fails_the_signature()
    {
        var parts = Rs256().Split('.');
        Refused(parts[0] + "." + B64(Claims(",\"admin\":true")) + "." + parts[2], "signature verification failed");
    }

    [Fact]
    public void Encrypted_tokens_are_refused() => Refused("a.b.c.d.e", "encrypted tokens (JWE) are not accepted");

    [Theory]
    [InlineData("abc")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    public void Tokens_without_three_segments_are_refused(string token) => Refused(token, "token is not a compact JWS of three segments");

    [Fact]
    public void Oversized_tokens_are_refused_before_parsing() =>
        Refused(new string('a', 9000), "token is longer than 8192 characters");

    [Theory]
    [InlineData("""{"alg":"RS256","alg":"none"}""", "header")]
    [InlineData("""{"alg":"RS256","kid":"rsa-1","kid":"other"}""", "header")]
    public void Duplicate_header_members_are_refused(string header, string where) =>
        Refused(Sign(header, Claims(), "RS256"), $"token {where} has a duplicate member '{(header.Contains("\"kid\":\"other\"", StringComparison.Ordinal) ? "kid" : "alg")}'");

    [Fact]
    public void Duplicate_payload_members_are_refused() =>
        Refused(Rs256(Claims(",\"sub\":\"admin\"")), "token payload has a duplicate member 'sub'");

    [Fact]
    public void Segments_that_are_not_base64url_are_refused() => Refused("a+b.c/d.e=f", "token segments are not base64url");

    [Fact]
    public void Header_that_is_not_json_is_refused() => Refused(B64("not json") + "." + B64("{}") + ".c2ln", "token header is not valid JSON");

    [Fact]
    public void Wrong_issuer_is_refused() =>
        Refused(Rs256($$"""{"iss":"https://evil.example/","aud":"orders-api","exp":{{NowSeconds + 60}}}"""), "issuer is not accepted");

    [Fact]
    public void Expired_token_is_refused_after_the_clock_skew()
    {
        var token = Rs256($$"""{"iss":"https://idp.example.com/","aud":"orders-api","exp":{{NowSeconds - 30}}}""");
        Assert.True(Validate(token).Ok);
        Refused(Rs256($$"""{"iss":"https://idp.example.com/","aud":"orders-api","exp":{{NowSeconds - 61}}}"""), "token is expired");
    }

    [Fact]
    public void Not_yet_valid_token_is_refused() =>
        Refused(Rs256($$"""{"iss":"https://idp.example.com/","aud":"orders-api","nbf":{{NowSeconds + 120}},"exp":{{NowSeconds + 600}}}"""), "token is not valid yet");

    [Fact]
    public void Token_issued_in_the_future_is_refused() =>
        Refused(Rs256($$"""{"iss":"https://idp.example.com/","aud":"orders-api","iat":{{NowSeconds + 120}},"exp":{{NowSeconds + 600}}}"""), "token is issued in the future");

    [Fact]
    public void Token_without_exp_is_refused_when_expiration_is_required()
    {
        var token = Rs256("""{"iss":"https://idp.example.com/","aud":"orders-api"}""");
        Refused(token, "token has no exp");
        Assert.True(Validate(token, options: new JwtValidationOptions { Issuer = Options.Issuer, RequireExpiration = false }).Ok);
    }

    [Fact]
    public void Lifetime_longer_than_the_maximum_is_refused() =>
        Refused(Rs256($$"""{"iss":"https://idp.example.com/","aud":"orders-api","iat":{{NowSeconds}},"exp":{{NowSeconds + (48 * 3600)}}}"""), "token lifetime exceeds 1.00:00:00");

    [Fact]
    public void Non_numeric_time_claims_are_refused() =>
        Refused(Rs256("""{"iss":"https://idp.example.com/","aud":"orders-api","exp":"tomorrow"}"""), "claim exp is not a NumericDate");

    [Fact]
    public void Audience_mismatch_is_insufficient_scope() =>
        Refused(Rs256($$"""{"iss":"https://idp.example.com/","aud":"billing","exp":{{NowSeconds + 60}}}"""), "audience is not accepted", kind: JwtFailureKind.InsufficientScope);

    [Fact]
    public void Audience_array_matches_any_member() =>
        Assert.True(Validate(Rs256($$"""{"iss":"https://idp.example.com/","aud":["billing","orders-api"],"exp":{{NowSeconds + 60}}}""")).Ok);

    [Fact]
    public void Unknown_kid_is_flagged_for_a_key_refresh()
    {
        var (ok, failure, _) = Validate(Rs256(kid: "rotated-2"));
        Assert.False(ok);
        Assert.True(failure.UnknownKeyId);
        Assert.Equal("no key with kid 'rotated-2'", failure.Description);
    }

    [Fact]
    public void Required_type_is_checked_with_or_without_the_media_type_prefix()
    {
        var options = new JwtValidationOptions { Issuer = Options.Issuer, RequiredType = "at+jwt" };
        Assert.True(Validate(Sign("""{"alg":"RS256","kid":"rsa-1","typ":"at+JWT"}""", Claims(), "RS256"), options: options).Ok);
        Assert.True(Validate(Sign("""{"alg":"RS256","kid":"rsa-1","typ":"application/at+jwt"}""", Claims(), "RS256"), options: options).Ok);
        Refused(Rs256(), "token type must be 'at+jwt'", options: options);
    }

    [Fact]
    public void Unprintable_attacker_text_never_reaches_a_reason() =>
        Refused(Rs256(kid: "\\u0001\\u0002evil"), "no key with kid '(unprintable)'");

    [Fact]
    public void Garbage_never_throws()
    {
        var random = new Random(20261129);
        var alphabet = "abcXYZ019-_.+/=\"{}:, \u00e9\u0000";
        for (var i = 0; i < 3000; i++)
        {
            var length = random.Next(0, 200);
            var chars = new char[length];
            for (var j = 0; j < length; j++)
            {
                chars[j] = random.Next(4) == 0 ? (char)random.Next(0, 0xD7FF) : alphabet[random.Next(alphabet.Length)];
            }

            var (ok, failure, _) = Validate(new string(chars));
            Assert.False(ok);
            Assert.Equal(JwtFailureKind.InvalidToken, failure.Kind);
        }

        // Structured garbage: valid base64url segments holding random bytes.
        for (var i = 0; i < 2000; i++)
        {
            var segments = Enumerable.Range(0, 3).Select(_ => Base64Url.EncodeToString(RandomBytes(random, random.Next(1, 64))));
            Assert.False(Validate(string.Join('.', segments)).Ok);
        }
    }

    private static byte[] RandomBytes(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }
}
