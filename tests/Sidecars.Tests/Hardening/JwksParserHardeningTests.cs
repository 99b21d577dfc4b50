using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Tests.Infrastructure;
using static Sidecars.Tests.Authentication.TestTokens;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7 findings 8, 9b and 15: the JWKS parser never throws on hostile input, and says precisely why each
/// key it leaves out is unusable; RSA, EC and HMAC keys are checked for size and shape.
/// </summary>
public sealed class JwksParserHardeningTests
{
    private static readonly RSA Rsa1024 = RSA.Create(1024);

    private static string B64(byte[] bytes) => Base64Url.EncodeToString(bytes);

    private static string RsaJwk(string kid, byte[]? n = null, byte[]? e = null, string extra = "")
    {
        var p = Rsa.ExportParameters(false);
        return $$"""{"kty":"RSA","kid":"{{kid}}","n":"{{B64(n ?? p.Modulus!)}}","e":"{{B64(e ?? p.Exponent!)}}"{{extra}}}""";
    }

    private static string EcJwk(string kid, byte[]? x = null, string crv = "P-256")
    {
        var p = P256.ExportParameters(false);
        return $$"""{"kty":"EC","kid":"{{kid}}","crv":"{{crv}}","x":"{{B64(x ?? p.Q.X!)}}","y":"{{B64(p.Q.Y!)}}"}""";
    }

    private static (IReadOnlyList<SigningKey> Keys, IReadOnlyList<string> Errors) Parse(string json, bool local = false) =>
        Parse(Encoding.UTF8.GetBytes(json), local);

    private static (IReadOnlyList<SigningKey> Keys, IReadOnlyList<string> Errors) Parse(byte[] json, bool local = false)
    {
        var keys = JwksParser.Parse(json, out var errors, allowSymmetric: local);
        return (keys, errors);
    }

    [Theory]
    [InlineData("""{"keys":[1]}""", "key 1: not a JSON object")]
    [InlineData("""{"keys":[{"kty":"RSA","kid":"\ud800","n":"AQAB","e":"AQAB"}]}""", "key 1: kid is not valid UTF-16")]
    [InlineData("""{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":""}]}""", "key 1 (kid 'k'): RSA")]
    [InlineData("""{"keys":[{"kty":7}]}""", "key 1: kty is not a string")]
    [InlineData("""{"keys":[{"kid":"k"}]}""", "key 1 (kid 'k'): no kty")]
    [InlineData("""{"keys":[{"kty":"EC","crv":"P-256","x":"!!","y":"AA"}]}""", "key 1: EC x is not base64url")]
    [InlineData("""{"keys":[null,"x",[],{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}""", "key 4: kty 'OKP' is not supported")]
    [InlineData("""{"keys":{}}""", "a JWKS is a JSON object with a 'keys' array")]
    [InlineData("""[]""", "a JWKS is a JSON object with a 'keys' array")]
    [InlineData("""{"keys":[],"keys":[]}""", "the JWKS has member 'keys' twice")]
    [InlineData("""{ not json""", "the JWKS is not valid JSON (line 1, byte 3)")]
    [InlineData("", "the JWKS is empty")]
    public void Hostile_documents_never_throw_and_say_why(string json, string expected)
    {
        var (keys, errors) = Parse(json);
        Assert.Empty(keys);
        Assert.Contains(errors, e => e.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Deep_nesting_huge_documents_and_invalid_utf8_are_refused_with_a_reason()
    {
        Assert.Contains("nested deeper than", Assert.Single(Parse("{\"keys\":[" + new string('[', 100_000)).Errors), StringComparison.Ordinal);
        Assert.Contains("over the limit of", Assert.Single(Parse("{\"keys\":[" + new string(' ', 2 * 1024 * 1024) + "]}").Errors), StringComparison.Ordinal);
        byte[] invalid = [.. Encoding.UTF8.GetBytes("{\"keys\":[{\"kid\":\""), 0xFF, 0xC3, .. Encoding.UTF8.GetBytes("\"}]}")];
        Assert.Equal("the JWKS is not valid UTF-8 (byte 18)", Assert.Single(Parse(invalid).Errors));
    }

    [Fact]
    public void Good_keys_survive_beside_bad_ones()
    {
        var (keys, errors) = Parse($$"""{"keys":[1,{{RsaJwk("good")}},{"kty":"RSA","kid":"\udfff"},{{EcJwk("ec")}}]}""");
        Assert.Equal(["good", "ec"], keys.Select(k => k.KeyId));
        Assert.Equal(["key 1: not a JSON object", "key 3: kid is not valid UTF-16"], errors);
    }

    [Fact]
    public void Rsa_size_is_the_bit_length_of_the_modulus_without_leading_zeros()
    {
        var small = Rsa1024.ExportParameters(false);
        var padded = new byte[256];
        small.Modulus!.CopyTo(padded, 256 - small.Modulus!.Length);
        var (keys, errors) = Parse($$"""{"keys":[{{RsaJwk("padded", padded, small.Exponent)}}]}""");
        Assert.Empty(keys);
        Assert.Equal("key 1 (kid 'padded'): RSA modulus is 1024 bits, at least 2048 required", Assert.Single(errors));

        // A full 2048-bit modulus with a leading zero byte (as some encoders write it) is accepted.
        var p = Rsa.ExportParameters(false);
        (keys, errors) = Parse($$"""{"keys":[{{RsaJwk("zero", [0, .. p.Modulus!])}}]}""");
        Assert.Empty(errors);
        Assert.True(JwtValidator.TryValidate(Rs256(kid: "zero"), keys, new JwtValidationOptions(), Now, out _, out _));
    }

    [Theory]
    [InlineData(new byte[0], "RSA exponent e is empty")]
    [InlineData(new byte[] { 0, 0 }, "RSA exponent e is empty")]
    [InlineData(new byte[] { 1 }, "RSA exponent e must be odd and between 2^16 and 2^256 (NIST SP 800-89)")]
    [InlineData(new byte[] { 3 }, "RSA exponent e must be odd and between 2^16 and 2^256 (NIST SP 800-89)")]
    [InlineData(new byte[] { 1, 0, 0 }, "RSA exponent e must be odd and between 2^16 and 2^256 (NIST SP 800-89)")]
    public void Rsa_exponents_outside_the_nist_range_are_refused(byte[] exponent, string reason)
    {
        var (keys, errors) = Parse($$"""{"keys":[{{RsaJwk("k", e: exponent)}}]}""");
        Assert.Empty(keys);
        Assert.Equal($"key 1 (kid 'k'): {reason}", Assert.Single(errors));
    }

    [Fact]
    public void Rsa_exponent_of_33_bytes_is_refused_and_65537_accepted()
    {
        var huge = new byte[33];
        huge[0] = 1;
        huge[^1] = 1;
        Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", e: huge)}}]}""").Errors);
        Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", e: [1, 0, 1])}}]}""").Keys);
    }

    [Fact]
    public void Ec_coordinates_must_have_the_curve_s_length_and_lie_on_it()
    {
        var p = P256.ExportParameters(false);
        Assert.Equal("key 1 (kid 'k'): EC x is 31 bytes, P-256 needs 32", Assert.Single(Parse($$"""{"keys":[{{EcJwk("k", p.Q.X![1..])}}]}""").Errors));
        Assert.Equal("key 1 (kid 'k'): EC x is 33 bytes, P-256 needs 32", Assert.Single(Parse($$"""{"keys":[{{EcJwk("k", [0, .. p.Q.X!])}}]}""").Errors));
        var off = (byte[])p.Q.X!.Clone();
        off[5] ^= 1;
        Assert.Equal("key 1 (kid 'k'): EC point is not on P-256", Assert.Single(Parse($$"""{"keys":[{{EcJwk("k", off)}}]}""").Errors));
        Assert.Equal("key 1 (kid 'k'): crv 'P-192' is not supported", Assert.Single(Parse($$"""{"keys":[{{EcJwk("k", crv: "P-192")}}]}""").Errors));
    }

    [Fact]
    public void Hmac_keys_are_local_only_and_as_long_as_their_hash()
    {
        var short128 = B64(new byte[16]);
        var key256 = B64(Secret);
        Assert.Equal("key 1 (kid 'h'): HMAC key of 128 bits is under 256", Assert.Single(Parse($$"""{"keys":[{"kty":"oct","kid":"h","k":"{{short128}}"}]}""", local: true).Errors));
        Assert.Equal("key 1 (kid 'h'): HMAC key of 256 bits is under 384 for HS384",
            Assert.Single(Parse($$"""{"keys":[{"kty":"oct","kid":"h","alg":"HS384","k":"{{key256}}"}]}""", local: true).Errors));
        Assert.Contains("never fetched", Assert.Single(Parse($$"""{"keys":[{"kty":"oct","kid":"h","k":"{{key256}}"}]}""").Errors), StringComparison.Ordinal);

        // A 256-bit key without alg verifies HS256, but never HS384/HS512 (RFC 7518 §3.2: a key at least as long as the hash).
        var key = Assert.Single(Parse($$"""{"keys":[{"kty":"oct","kid":"h","k":"{{key256}}"}]}""", local: true).Keys);
        Assert.True(key.Accepts("HS256"));
        Assert.False(key.Accepts("HS384"));
        Assert.False(key.Accepts("HS512"));
    }

    [Fact]
    public void An_alg_that_does_not_fit_the_key_type_and_a_published_private_key_are_refused()
    {
        Assert.Equal("key 1 (kid 'k'): alg 'HS256' does not fit kty 'RSA'", Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", extra: ",\"alg\":\"HS256\"")}}]}""").Errors));
        Assert.Equal("key 1 (kid 'k'): alg 'none' is not supported", Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", extra: ",\"alg\":\"none\"")}}]}""").Errors));
        Assert.Contains("private key", Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", extra: ",\"d\":\"AQAB\"")}}]}""").Errors), StringComparison.Ordinal);
        Assert.Equal("key 1 (kid 'k'): key_ops does not include 'verify'",
            Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", extra: ",\"key_ops\":[\"encrypt\"]")}}]}""").Errors));
        Assert.Equal("key 1 (kid 'k'): member 'n' appears twice", Assert.Single(Parse($$"""{"keys":[{{RsaJwk("k", extra: ",\"n\":\"AQAB\"")}}]}""").Errors));
    }

    [Fact]
    public void A_repeated_kid_of_the_same_type_is_ignored_after_the_first()
    {
        var (keys, errors) = Parse($$"""{"keys":[{{RsaJwk("k")}},{{RsaJwk("k")}},{{EcJwk("k")}}]}""");
        Assert.Equal(["RSA", "EC"], keys.Select(k => k.KeyType));
        Assert.Equal("key 2 (kid 'k'): repeats the kid of key 1 (kty RSA): ignored", Assert.Single(errors));
    }

    [Fact]
    public void Errors_are_bounded_for_a_document_of_many_bad_keys()
    {
        var (keys, errors) = Parse("{\"keys\":[" + string.Join(',', Enumerable.Repeat("1", 5000)) + "]}");
        Assert.Empty(keys);
        Assert.True(errors.Count <= 21, $"{errors.Count} errors");
        Assert.Contains(errors, e => e.Contains("more", StringComparison.Ordinal));
    }

    [Fact]
    public void Local_jwks_without_a_usable_key_says_why()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", $$"""
            providers:
              - name: partners
                issuer: https://partners.example.com/
                local_jwks: { inline: '{"keys":[{"kty":"oct","kid":"h","k":"{{B64(new byte[16])}}"},1]}' }
            routes:
              - match: { path_prefix: / }
                requires: { provider: partners }
            """);
        var diagnostics = new ConfigDiagnostics();
        Assert.Null(ConfigLoader.Compile(ConfigLoader.ReadDirectory(directory.Path, diagnostics), diagnostics));
        var error = Assert.Single(diagnostics.Errors).ToString();
        Assert.EndsWith("provider 'partners': local_jwks 'inline' holds no usable key: key 1 (kid 'h'): HMAC key of 128 bits is under 256; key 2: not a JSON object", error, StringComparison.Ordinal);
    }
}
