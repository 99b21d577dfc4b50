using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Sidecars.Authentication;

namespace Sidecars.Tests.Authentication;

/// <summary>Keys made by the tests and compact JWS tokens signed with them, byte by byte as RFC 7515 says.</summary>
internal static class TestTokens
{
    public static readonly RSA Rsa = RSA.Create(2048);
    public static readonly ECDsa P256 = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    public static readonly ECDsa P384 = ECDsa.Create(ECCurve.NamedCurves.nistP384);
    public static readonly byte[] Secret = RandomNumberGenerator.GetBytes(32);

    public static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static long NowSeconds => Now.ToUnixTimeSeconds();

    public static SigningKey RsaKey(string? kid = "rsa-1", string? alg = null) => SigningKey.FromRsa(kid, Rsa.ExportParameters(false), alg);

    public static SigningKey EcKey(string kid = "ec-1") => SigningKey.FromEc(kid, "P-256", P256.ExportParameters(false));

    public static string B64(string text) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(text));

    public static string Claims(string extra = "") =>
        $$"""{"iss":"https://idp.example.com/","sub":"user-1","aud":"orders-api","iat":{{NowSeconds - 60}},"exp":{{NowSeconds + 600}}{{extra}}}""";

    /// <summary>header.payload.signature, signed as <paramref name="alg"/> says with the matching test key.</summary>
    public static string Sign(string headerJson, string payloadJson, string alg)
    {
        var input = B64(headerJson) + "." + B64(payloadJson);
        var data = Encoding.ASCII.GetBytes(input);
        var signature = alg switch
        {
            "RS256" => Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
            "RS512" => Rsa.SignData(data, HashAlgorithmName.SHA512, RSASignaturePadding.Pkcs1),
            "PS256" => Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
            "ES256" => P256.SignData(data, HashAlgorithmName.SHA256),
            "ES384" => P384.SignData(data, HashAlgorithmName.SHA384),
            "HS256" => HMACSHA256.HashData(Secret, data),
            _ => [],
        };
        return input + "." + Base64Url.EncodeToString(signature);
    }

    public static string Rs256(string? payload = null, string kid = "rsa-1") =>
        Sign($$"""{"alg":"RS256","typ":"JWT","kid":"{{kid}}"}""", payload ?? Claims(), "RS256");

    /// <summary>
    /// A token of issuer <c>https://idp.example.com/</c> valid now on the wall clock (issued 10 s ago, for 10 minutes):
    /// for a real server process, whose clock the test cannot set.
    /// </summary>
    public static string LiveRs256(string sub)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return Rs256($$"""{"iss":"https://idp.example.com/","sub":"{{sub}}","iat":{{now - 10}},"exp":{{now + 600}}}""");
    }
}
