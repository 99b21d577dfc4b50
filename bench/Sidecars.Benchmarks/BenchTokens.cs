using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Sidecars.Benchmarks;

/// <summary>The key and the token every ext_authz benchmark uses: one RSA key (kid <c>k1</c>), a token valid for a day.</summary>
internal static class BenchTokens
{
    /// <summary>The JWKS holding <paramref name="rsa"/>'s public key as <c>k1</c>.</summary>
    public static string Jwks(RSA rsa)
    {
        var p = rsa.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"k1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    /// <summary><c>Bearer</c> and an RS256 token of <c>https://idp.example.com/</c> for <c>orders-api</c>, user-1, scope orders:read, plus <paramref name="extraClaims"/> (JSON members, each after a comma).</summary>
    public static string Bearer(RSA rsa, string extraClaims = "")
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var header = Base64Url.EncodeToString("""{"alg":"RS256","typ":"JWT","kid":"k1"}"""u8);
        var payload = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            $$"""{"iss":"https://idp.example.com/","sub":"user-1","aud":"orders-api","scope":"orders:read"{{extraClaims}},"iat":{{now - 60}},"exp":{{now + 86_400}}}"""));
        var signature = rsa.SignData(Encoding.ASCII.GetBytes(header + "." + payload), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return "Bearer " + header + "." + payload + "." + Base64Url.EncodeToString(signature);
    }
}
