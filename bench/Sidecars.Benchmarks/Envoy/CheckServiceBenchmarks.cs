using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.Wire;

namespace Sidecars.Benchmarks.Envoy;

/// <summary>
/// One ext_authz <c>Check</c> at the gRPC level, in process, with the request of issue 8: <c>GET
/// https://orders.example.com/orders/1?x=1</c>, the 13 headers Envoy sends, a valid RS256 bearer token that is
/// always a token-cache hit, one route <c>path_prefix: /</c> requiring the provider, <c>forward: false</c>, one
/// <c>claim_to_headers</c>. Baseline: the core's decision alone (route, token cache, upstream headers), so the
/// ratios say what the adapter and the wire add. "Wire" is what Grpc.AspNetCore runs around the handler: the
/// lenient request marshaller on the request bytes, then the response marshaller into a buffer.
/// </summary>
public class CheckServiceBenchmarks
{
    private AuthorizationServiceAdapter _adapter = null!;
    private ConfigState _config = null!;
    private TokenCache _cache = null!;
    private CheckRequest _request = null!;
    private byte[] _requestBytes = null!;
    private PayloadReader _reader = null!;
    private readonly PayloadWriter _writer = new();

    [GlobalSetup]
    public void Setup()
    {
        using var rsa = RSA.Create(2048);
        _config = BenchTokens.Publish(new ConfigSource("bench.yaml", BenchTokens.Providers(rsa) + """
            routes:
              - name: all
                match: { path_prefix: / }
                requires: { provider: corp }
            """));
        _cache = new TokenCache(10_000, TimeProvider.System);
        _adapter = new AuthorizationServiceAdapter(_config, _cache, TimeProvider.System, new AuthResponseOptions(), NullLogger<AuthorizationServiceAdapter>.Instance);

        _request = EnvoyCheckRequest(BenchTokens.Bearer(rsa));
        _requestBytes = _request.ToByteArray();
        _reader = new PayloadReader(_requestBytes);

        var first = _adapter.Check(_request, null!).Result;
        if (first.Status.Code != 0 || first.OkResponse.Headers.Count != 1 || CoreDecision() != true || _cache.Count != 1 || !_adapter.Answer(_request).Result.IsEncoded)
        {
            throw new InvalidOperationException("the benchmark request must be allowed from the token cache: " + first);
        }
    }

    /// <summary>What Envoy's ext_authz filter sends for the request (HTTP/2 pseudo-headers included, as it does).</summary>
    internal static CheckRequest EnvoyCheckRequest(string authorization)
    {
        var http = new AttributeContext.Types.HttpRequest
        {
            Id = "13716457470451384384",
            Method = "GET",
            Path = "/orders/1?x=1",
            Host = "orders.example.com",
            Scheme = "https",
            Protocol = "HTTP/2",
            Size = -1,
        };
        http.Headers.Add(":authority", "orders.example.com");
        http.Headers.Add(":method", "GET");
        http.Headers.Add(":path", "/orders/1?x=1");
        http.Headers.Add(":scheme", "https");
        http.Headers.Add("authorization", authorization);
        http.Headers.Add("user-agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36");
        http.Headers.Add("accept", "application/json");
        http.Headers.Add("accept-encoding", "gzip, deflate, br");
        http.Headers.Add("accept-language", "en-US,en;q=0.9");
        http.Headers.Add("x-forwarded-for", "203.0.113.7");
        http.Headers.Add("x-forwarded-proto", "https");
        http.Headers.Add("x-request-id", "3f0c8a4e-6d1b-4f7e-9a52-7c1e2b9d4a60");
        http.Headers.Add("x-envoy-external-address", "203.0.113.7");
        return new CheckRequest
        {
            Attributes = new AttributeContext
            {
                Source = new AttributeContext.Types.Peer { Address = Socket("203.0.113.7", 51_234) },
                Destination = new AttributeContext.Types.Peer { Address = Socket("10.0.0.5", 8443) },
                Request = new AttributeContext.Types.Request
                {
                    Time = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTimeOffset(DateTimeOffset.UtcNow),
                    Http = http,
                },
            },
        };
    }

    private static Address Socket(string address, uint port) => new() { SocketAddress = new SocketAddress { Address = address, PortValue = port } };

    [Benchmark(Baseline = true, Description = "Core decision only (route + cached token + upstream headers)")]
    public bool CoreDecision()
    {
        var policy = _config.Current.Auth;
        var view = CheckRequestView.Rent(_request.Attributes.Request.Http);
        var tokens = RequestTokens.Rent(view, policy.Validators, _cache, TimeProvider.System);
        var decision = AuthEvaluator.Decide(policy.Routes, policy.DefaultAllow, view, tokens);
        RequestTokens.Return(tokens);
        CheckRequestView.Return(view);
        return UpstreamShaping.Complete(policy, decision).Allowed;
    }

    [Benchmark(Description = "Check adapter, parsed request in, answer out")]
    public CheckAnswer Adapter() => _adapter.Answer(_request).Result;

    [Benchmark(Description = "Check on the wire: read (headers kept as bytes) + adapter + serialize")]
    public int Wire() => BenchTokens.Wire(_adapter, _reader, _writer);

    [Benchmark(Description = "Reading the request bytes alone (headers kept as bytes)")]
    public CheckCall ReadOnly() => EnvoyWire.Check.RequestMarshaller.ContextualDeserializer(_reader);

    [Benchmark(Description = "Lenient parse of the request bytes alone (every header a string in a map)")]
    public CheckRequest ParseOnly() => EnvoyWire.ReadCheckRequest(_requestBytes);
}
