using System.Buffers.Text;
using System.Text;
using Sidecars.Authentication;
using static Sidecars.Tests.Authentication.TestTokens;

namespace Sidecars.Tests.Authentication;

public sealed class JwksParserTests
{
    private static string RsaJwk(string kid, string extra = "")
    {
        var p = Rsa.ExportParameters(false);
        return $$"""{"kty":"RSA","kid":"{{kid}}","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"{{extra}}}""";
    }

    private static string EcJwk(string kid)
    {
        var p = P256.ExportParameters(false);
        return $$"""{"kty":"EC","kid":"{{kid}}","crv":"P-256","x":"{{Base64Url.EncodeToString(p.Q.X)}}","y":"{{Base64Url.EncodeToString(p.Q.Y)}}"}""";
    }

    [Fact]
    public void Rsa_and_ec_keys_verify_tokens()
    {
        var keys = JwksParser.Parse(Encoding.UTF8.GetBytes($$"""{"keys":[{{RsaJwk("rsa-1")}},{{EcJwk("ec-1")}}]}"""), out var skipped);
        Assert.Empty(skipped);
        Assert.Equal(["rsa-1", "ec-1"], keys.Select(k => k.KeyId));
        var options = new JwtValidationOptions { Issuer = "https://idp.example.com/" };
        Assert.True(JwtValidator.TryValidate(Rs256(), keys, options, Now, out _, out _));
        Assert.True(JwtValidator.TryValidate(Sign("""{"alg":"ES256","kid":"ec-1"}""", Claims(), "ES256"), keys, options, Now, out _, out _));
    }

    [Fact]
    public void Symmetric_encryption_and_weak_keys_are_skipped_with_a_reason()
    {
        var p = Rsa.ExportParameters(false);
        var json = $$"""
            {"keys":[
              {"kty":"oct","kid":"shared","k":"c2VjcmV0"},
              {{RsaJwk("enc-1", ",\"use\":\"enc\"")}},
              {"kty":"RSA","kid":"short","n":"{{Base64Url.EncodeToString(p.Modulus.AsSpan(0, 64))}}","e":"AQAB"},
              {"kty":"OKP","kid":"ed","crv":"Ed25519","x":"AAAA"},
              {{RsaJwk("good")}}
            ]}
            """;
        var keys = JwksParser.Parse(Encoding.UTF8.GetBytes(json), out var skipped);
        Assert.Equal("good", Assert.Single(keys).KeyId);
        Assert.Equal(4, skipped.Count);
        Assert.Contains(skipped, s => s.Contains("never fetched", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("[]")]
    [InlineData("{\"keys\":{}}")]
    [InlineData("{}")]
    public void Documents_without_a_keys_array_are_refused(string json)
    {
        Assert.Empty(JwksParser.Parse(Encoding.UTF8.GetBytes(json), out var errors));
        Assert.Equal("a JWKS is a JSON object with a 'keys' array", Assert.Single(errors));
    }
}
