using System.Buffers.Text;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Authorization.Services;

/// <summary>The ext_authz adapter over service files, in process, with the test RSA key trusted as provider <c>corp</c>.</summary>
internal sealed class ServiceHarness
{
    public ServiceHarness(IBucketStore? store = null, params (string Name, string Yaml)[] files)
    {
        Clock = new FakeTimeProvider(TestTokens.Now);
        Config = TestConfig.State([("00-providers.yaml", Providers), .. files]);
        Adapter = new AuthorizationServiceAdapter(Config, new TokenCache(100, Clock), Clock, new AuthResponseOptions { ExposeReason = true }, NullLogger<AuthorizationServiceAdapter>.Instance, store ?? new InMemoryBucketStore(Clock));
    }

    public ServiceHarness(params (string Name, string Yaml)[] files)
        : this(null, files)
    {
    }

    public FakeTimeProvider Clock { get; }

    public ConfigState Config { get; }

    public AuthorizationServiceAdapter Adapter { get; }

    public static string Providers => $$"""
        providers:
          - name: corp
            issuer: https://idp.example.com/
            local_jwks: { inline: '{{Jwks()}}' }
            claim_to_headers: [{ claim: sub, header: x-user-id }]
        """;

    public static string Jwks()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        return $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
    }

    /// <summary>A token of <c>corp</c> with extra claims (JSON members, each starting with a comma).</summary>
    public static string Token(string extraClaims = "") => TestTokens.Rs256(TestTokens.Claims(extraClaims));

    public static CheckRequest Request(
        string host, string path, string method = "GET", string? token = null, IEnumerable<(string, string)>? headers = null,
        string? sourceIp = null, string? principal = null, IEnumerable<(string, string)>? context = null)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = method, Host = host, Path = path, Scheme = "https" };
        if (token is not null)
        {
            http.Headers.Add("authorization", "Bearer " + token);
        }

        foreach (var (name, value) in headers ?? [])
        {
            http.Headers[name] = value;
        }

        var attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } };
        if (sourceIp is not null || principal is not null)
        {
            attributes.Source = new AttributeContext.Types.Peer { Principal = principal ?? string.Empty };
            if (sourceIp is not null)
            {
                attributes.Source.Address = new Address { SocketAddress = new SocketAddress { Address = sourceIp, PortValue = 40000 } };
            }
        }

        foreach (var (key, value) in context ?? [])
        {
            attributes.ContextExtensions[key] = value;
        }

        return new CheckRequest { Attributes = attributes };
    }

    public CheckResponse Check(CheckRequest request)
    {
        var task = Adapter.Answer(request);
        return task.GetAwaiter().GetResult().ToMessage();
    }

    /// <summary>The HTTP status Envoy would answer: 200 for an allow.</summary>
    public static int Status(CheckResponse response) => response.OkResponse is not null ? 200 : (int)response.DeniedResponse.Status.Code;

    public static string? Header(IEnumerable<HeaderValueOption> headers, string name) =>
        headers.FirstOrDefault(h => string.Equals(h.Header.Key, name, StringComparison.OrdinalIgnoreCase))?.Header.Value;
}
