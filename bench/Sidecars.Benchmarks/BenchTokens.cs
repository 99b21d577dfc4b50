using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Envoy.Service.Auth.V3;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;

namespace Sidecars.Benchmarks;

/// <summary>What every ext_authz benchmark shares: one RSA key (kid <c>k1</c>), a token valid for a day, the provider <c>corp</c> that trusts it, and the wire round trip.</summary>
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

    /// <summary>The provider <c>corp</c> (issuer, audience, the key inline, <c>forward: false</c>, sub to x-user-id) as a YAML <c>providers</c> block.</summary>
    public static string Providers(RSA rsa) => $$"""
        providers:
          - name: corp
            issuer: https://idp.example.com/
            audiences: [orders-api]
            local_jwks: { inline: '{{Jwks(rsa)}}' }
            forward: false
            claim_to_headers: [{ claim: sub, header: x-user-id }]

        """;

    /// <summary>The files compiled and published as a snapshot; a config error stops the benchmark with every message.</summary>
    public static ConfigState Publish(params ConfigSource[] files)
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile(files, diagnostics) ?? throw new InvalidOperationException(string.Join("\n", diagnostics.Errors));
        var config = new ConfigState();
        config.Publish(snapshot);
        return config;
    }

    /// <summary>One Check as the server runs it: the request bytes read by the wire reader, the adapter, the response serialized.</summary>
    public static int Wire(AuthorizationServiceAdapter adapter, global::Sidecars.Benchmarks.Envoy.PayloadReader reader, global::Sidecars.Benchmarks.Envoy.PayloadWriter writer)
    {
        var request = global::Sidecars.Envoy.Wire.EnvoyWire.Check.RequestMarshaller.ContextualDeserializer(reader);
        var response = adapter.Answer(request).Result;
        writer.Reset();
        global::Sidecars.Envoy.Wire.EnvoyWire.Check.ResponseMarshaller.ContextualSerializer(response, writer);
        return writer.Written;
    }
}
