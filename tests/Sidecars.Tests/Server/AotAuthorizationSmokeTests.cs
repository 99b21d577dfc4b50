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
        var (process, grpcPort, httpPort) = StartAot(directory);
        using var _ = process;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            await AotBinary.WaitReadyAsync(http);

            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var client = new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(channel);
            var token = TestTokens.LiveRs256("user-1");

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

    /// <summary>Issue 9 on the native binary: a service route's rules (regex, CIDR), an API key, and a limit answered inside Check.</summary>
    [Fact]
    public async Task Aot_binary_answers_service_policies_with_rules_keys_and_limits()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("00-providers.yaml", Sidecars.Tests.Authorization.Services.ServiceHarness.Providers);
        directory.Write("orders.yaml", $$"""
            service: orders
            owns: [{ host: orders.example.com }]
            api_keys:
              - name: keys
                from_headers: [{ name: x-api-key }]
                keys: [{ id: k1, sha256: "{{Sidecars.Authorization.Services.ApiKeySet.HashOf("key-1")}}", claims: { tenant: acme } }]
            routes:
              - name: read
                match: { path_prefix: /orders }
                requires: { any: [{ provider: corp }, { api_key: keys }] }
                rules:
                  - header: { name: x-env, regex: "(dev|prod)" }
                  - source_ip: [10.0.0.0/8, "2001:db8::/32"]
                rate_limits:
                  - { name: per-user, per: [claim:sub], unit: hour, requests_per_unit: 2 }
            """);
        var (process, grpcPort, httpPort) = StartAot(directory);
        using var _ = process;
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            await AotBinary.WaitReadyAsync(http);
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var client = new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(channel);
            var token = TestTokens.LiveRs256("user-9");
            CheckRequest Request((string, string) credential, string ip = "10.1.1.1") =>
                Sidecars.Tests.Authorization.Services.ServiceHarness.Request("orders.example.com", "/orders/1", headers: [credential, ("x-env", "prod")], sourceIp: ip);

            var sinceFirstCharge = System.Diagnostics.Stopwatch.StartNew();
            var first = await client.CheckAsync(Request(("authorization", "Bearer " + token)));
            Assert.Equal(0, first.Status.Code);
            Assert.Equal("\"per-user\";r=1;t=1800", first.OkResponse.ResponseHeadersToAdd.Single(h => h.Header.Key == "ratelimit").Header.Value);
            Assert.Equal(7, (await client.CheckAsync(Request(("authorization", "Bearer " + token), ip: "192.0.2.1"))).Status.Code);
            Assert.Equal(0, (await client.CheckAsync(Request(("authorization", "Bearer " + token)))).Status.Code);
            var over = await client.CheckAsync(Request(("authorization", "Bearer " + token)));
            Assert.Equal(global::Envoy.Type.V3.StatusCode.TooManyRequests, over.DeniedResponse.Status.Code);
            // An interval after the first charge, rounded up: 1800 unless the calls in between took over a second.
            var retryAfter = int.Parse(over.DeniedResponse.Headers.Single(h => h.Header.Key == "retry-after").Header.Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(retryAfter, 1800 - (int)Math.Ceiling(sinceFirstCharge.Elapsed.TotalSeconds), 1800);

            var key = await client.CheckAsync(Request(("x-api-key", "key-1"), ip: "2001:db8::7"));
            Assert.Equal(0, key.Status.Code);
            Assert.Equal("k1", key.DynamicMetadata.Fields["api_key"].StructValue.Fields["id"].StringValue);
            Assert.Equal(16, (await client.CheckAsync(Request(("x-api-key", "key-2")))).Status.Code);
        }
        finally
        {
            process.Kill();
            process.WaitForExit(10_000);
        }
    }

    /// <summary>The AOT binary serving <paramref name="directory"/> on two fresh loopback ports, its output drained.</summary>
    private static (Process Process, int GrpcPort, int HttpPort) StartAot(TempConfigDirectory directory)
    {
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var start = new ProcessStartInfo(AotBinary.Path(), ["serve", "--config", directory.Path, "--grpc", $"127.0.0.1:{grpcPort}", "--http", $"127.0.0.1:{httpPort}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        var process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return (process, grpcPort, httpPort);
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
