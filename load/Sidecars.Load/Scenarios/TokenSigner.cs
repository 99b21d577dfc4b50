using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace Sidecars.Load.Scenarios;

/// <summary>RS256 compact JWS tokens for the load provider (RFC 7515 §7.1), signed with the key made at prepare time.</summary>
internal sealed class TokenSigner(RSA key, string keyId)
{
    public const string Issuer = "https://idp.load.test/";
    public const string Audience = "orders-api";

    private readonly string _header = B64($$"""{"alg":"RS256","typ":"JWT","kid":"{{keyId}}"}""");

    /// <summary>A token for <paramref name="subject"/>; <paramref name="audience"/> and the times vary for the deny cases.</summary>
    public string Sign(string subject, DateTimeOffset issuedAt, DateTimeOffset expires, string audience = Audience)
    {
        var payload = $$"""{"iss":"{{Issuer}}","sub":"{{subject}}","aud":"{{audience}}","scope":"orders:read","iat":{{issuedAt.ToUnixTimeSeconds()}},"exp":{{expires.ToUnixTimeSeconds()}},"jti":"{{Guid.NewGuid():N}}"}""";
        var input = _header + "." + B64(payload);
        var signature = key.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return input + "." + Base64Url.EncodeToString(signature);
    }

    /// <summary>The public half as a JWKS document (DIR/keys/load.json).</summary>
    public string PublicJwks()
    {
        var p = key.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"{{keyId}}","alg":"RS256","use":"sig","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    private static string B64(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));
}
