using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Authorization.Services;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;

namespace Sidecars.Benchmarks.Authorization;

/// <summary>
/// Issue 9's hot path: a service route that authenticates a cached token, evaluates five rules and charges one
/// in-memory bucket, on the request of <see cref="global::Sidecars.Benchmarks.Envoy.CheckServiceBenchmarks"/>. Baseline: the core decision of a
/// shared route on the same cached token (issue 8's), so the ratio says what rules and the limit add.
/// </summary>
public class ServicePolicyBenchmarks
{
    private ConfigState _config = null!;
    private TokenCache _cache = null!;
    private CheckRequest _request = null!;
    private AuthorizationServiceAdapter _adapter = null!;
    private ServiceLimiter _limiter = null!;
    private global::Sidecars.Benchmarks.Envoy.PayloadReader _sharedReader = null!;
    private global::Sidecars.Benchmarks.Envoy.PayloadReader _serviceReader = null!;
    private readonly global::Sidecars.Benchmarks.Envoy.PayloadWriter _writer = new();

    [GlobalSetup]
    public void Setup()
    {
        using var rsa = RSA.Create(2048);
        var providers = BenchTokens.Providers(rsa) + """
            routes:
              - name: all
                match: { host: shared.example.com, path_prefix: / }
                requires: { provider: corp }
            """;
        const string Service = """
            service: orders
            owns: [{ host: orders.example.com }]
            routes:
              - name: read
                match: { path_prefix: /orders, methods: [GET] }
                requires: { provider: corp }
                rules:
                  - claim: { name: tenant, in: [acme, globex] }
                  - claim: { name: scope, contains: "orders:read" }
                  - header: { name: accept, prefix: application/ }
                  - method: [GET, HEAD]
                  - not: { header: { name: x-debug, exists: true } }
                rate_limits:
                  - { name: per-user, per: [claim:sub], unit: second, requests_per_unit: 1000000000 }
            """;
        _config = BenchTokens.Publish(new ConfigSource("a.yaml", providers), new ConfigSource("orders.yaml", Service));
        _cache = new TokenCache(10_000, TimeProvider.System);
        var store = new InMemoryBucketStore(TimeProvider.System);
        _limiter = new ServiceLimiter(store);
        _adapter = new AuthorizationServiceAdapter(_config, _cache, TimeProvider.System, new AuthResponseOptions(), NullLogger<AuthorizationServiceAdapter>.Instance, store);

        _request = global::Sidecars.Benchmarks.Envoy.CheckServiceBenchmarks.EnvoyCheckRequest(BenchTokens.Bearer(rsa, ",\"tenant\":\"acme\""));
        var shared = _request.Clone();
        shared.Attributes.Request.Http.Host = "shared.example.com";
        shared.Attributes.Request.Http.Headers[":authority"] = "shared.example.com";
        _sharedReader = new global::Sidecars.Benchmarks.Envoy.PayloadReader(Google.Protobuf.MessageExtensions.ToByteArray(shared));
        _serviceReader = new global::Sidecars.Benchmarks.Envoy.PayloadReader(Google.Protobuf.MessageExtensions.ToByteArray(_request));
        var first = _adapter.Check(_request, null!).Result;
        if (first.Status.Code != 0 || first.OkResponse.ResponseHeadersToAdd.Count != 2 || !SharedRoute() || !ServiceRoute())
        {
            throw new InvalidOperationException("the benchmark request must be allowed by the service route, charged, from the token cache: " + first);
        }
    }

    [Benchmark(Baseline = true, Description = "Core decision, shared route (cached token + upstream headers)")]
    public bool SharedRoute()
    {
        var http = _request.Attributes.Request.Http;
        var host = http.Host;
        http.Host = "shared.example.com";
        try
        {
            var policy = _config.Current.Auth;
            var view = CheckRequestView.Rent(http);
            var tokens = RequestTokens.Rent(view, policy.Validators, _cache, TimeProvider.System);
            var decision = AuthEvaluator.Decide(policy, view, tokens);
            RequestTokens.Return(tokens);
            CheckRequestView.Return(view);
            return UpstreamShaping.Complete(policy, decision).Allowed;
        }
        finally
        {
            http.Host = host;
        }
    }

    [Benchmark(Description = "Core decision, service route: cached token + 5 rules + 1 in-memory bucket")]
    public bool ServiceRoute()
    {
        var policy = _config.Current.Auth;
        var view = CheckRequestView.Rent(_request);
        var tokens = RequestTokens.Rent(view, policy.Validators, _cache, TimeProvider.System);
        var decision = AuthEvaluator.Decide(policy, view, tokens);
        RequestTokens.Return(tokens);
        var batch = ServiceLimiter.Rent();
        if (ServiceLimiter.Build(decision, view, batch))
        {
            _limiter.ApplyAsync(batch).GetAwaiter().GetResult();
            decision = ServiceLimiter.Finish(decision, batch);
        }

        ServiceLimiter.Return(batch);
        CheckRequestView.Return(view);
        decision = ServiceEvaluator.ApplyMode(decision);
        return UpstreamShaping.Complete(policy, decision).Allowed && decision.Limit is not null;
    }

    [Benchmark(Description = "Check adapter, service route with limit: parsed request in, answer out")]
    public CheckAnswer Adapter() => _adapter.Answer(_request).Result;

    [Benchmark(Description = "Check on the wire, shared route: read + adapter + serialize")]
    public int WireShared() => Wire(_sharedReader);

    [Benchmark(Description = "Check on the wire, service route with 5 rules and a limit: read + adapter + serialize")]
    public int WireService() => Wire(_serviceReader);

    private int Wire(global::Sidecars.Benchmarks.Envoy.PayloadReader reader) => BenchTokens.Wire(_adapter, reader, _writer);
}
