using System.Buffers.Text;
using System.Diagnostics;
using Envoy.Service.Auth.V3;
using Grpc.Net.Client;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>ext_authz through the native AOT binary: JSON, regex, crypto and Struct building all run trimmed.</summary>
public sealed class AotAuthorizationSmokeTests
{
    [Fact]
    public async Task Aot_binary_answers_ext_authz_check_with_local_keys()
    {
        using var directory = new TempConfigDirectory();
        var p = TestTokens.Rsa.ExportParameters(false);
        File.WriteAllText(
            Path.Combine(directory.Path, "corp-jwks.json"),
            $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""");
        directory.Write("auth.yaml", """
            providers:
              - name: corp
                issuer: https://idp.example.com/
                local_jwks: { file: corp-jwks.json }
                claim_to_headers: [{ claim: sub, header: x-user-id }]
            routes:
              - match: { path_regex: "/orders/[0-9]+" }
                requires: { provider: corp }
            """);
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var start = new ProcessStartInfo(AotBinary.Path(), ["serve", "--config", directory.Path, "--grpc", $"127.0.0.1:{grpcPort}", "--http", $"127.0.0.1:{httpPort}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            await AotBinary.WaitReadyAsync(http);

            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var client = new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(channel);
            var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            var token = TestTokens.Rs256($$"""{"iss":"https://idp.example.com/","sub":"user-1","iat":{{now - 60}},"exp":{{now + 600}}}""");

            var allowed = await client.CheckAsync(Check("Bearer " + token));
            Assert.Equal(0, allowed.Status.Code);
            Assert.Equal("user-1", allowed.OkResponse.Headers.Single(h => h.Header.Key == "x-user-id").Header.Value);
            Assert.Equal("user-1", allowed.DynamicMetadata.Fields["jwt"].StructValue.Fields["sub"].StringValue);

            var denied = await client.CheckAsync(Check(null));
            Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, denied.DeniedResponse.Status.Code);
        }
        finally
        {
            process.Kill();
            process.WaitForExit(10_000);
        }
    }

    private static CheckRequest Check(string? authorization)
    {
        var request = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "h", Path = "/orders/7" };
        if (authorization is not null)
        {
            request.Headers["authorization"] = authorization;
        }

        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = request } } };
    }
}
