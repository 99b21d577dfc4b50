using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting.Stores;

namespace Sidecars.Benchmarks.Authorization;

/// <summary>
/// Where a service route's time goes, on the wire (read + adapter + serialize) as the server runs it: the same
/// cached-token request to four routes of one service — plain (baseline), with the five rules, with the one limit,
/// with both (the check+limit load scenario's route).
/// </summary>
public class ServiceBreakdownBenchmarks
{
    private AuthorizationServiceAdapter _adapter = null!;
    private readonly Dictionary<string, global::Sidecars.Benchmarks.Envoy.PayloadReader> _readers = [];
    private readonly global::Sidecars.Benchmarks.Envoy.PayloadWriter _writer = new();

    [GlobalSetup]
    public void Setup()
    {
        using var rsa = RSA.Create(2048);
        const string Rules = """
                rules:
                  - claim: { name: sub, prefix: user- }
                  - header: { name: accept, prefix: application/ }
                  - method: [GET, HEAD]
                  - source_ip: [203.0.113.0/24]
                  - not: { header: { name: x-debug, exists: true } }
            """;
        const string Limit = """
                rate_limits:
                  - { name: per-user, per: [claim:sub], unit: second, requests_per_unit: 1000000000 }
            """;
        var service = new StringBuilder("service: svc\nowns:\n");
        foreach (var host in (string[])["plain", "rules", "limit", "both"])
        {
            service.Append("  - { host: ").Append(host).Append(".example.com }\n");
        }

        service.Append("routes:\n");
        foreach (var (host, extra) in (ReadOnlySpan<(string, string)>)[("plain", ""), ("rules", Rules), ("limit", Limit), ("both", Rules + "\n" + Limit)])
        {
            service.Append("  - name: ").Append(host).Append("\n    match: { host: ").Append(host).Append(".example.com, path_prefix: / }\n    requires: { provider: corp }\n").Append(extra).Append(extra.Length > 0 ? "\n" : string.Empty);
        }

        var config = BenchTokens.Publish(new ConfigSource("a.yaml", BenchTokens.Providers(rsa)), new ConfigSource("svc.yaml", service.ToString()));
        var cache = new TokenCache(10_000, TimeProvider.System);
        _adapter = new AuthorizationServiceAdapter(config, cache, TimeProvider.System, new AuthResponseOptions(), NullLogger<AuthorizationServiceAdapter>.Instance, new InMemoryBucketStore(TimeProvider.System));

        var request = global::Sidecars.Benchmarks.Envoy.CheckServiceBenchmarks.EnvoyCheckRequest(BenchTokens.Bearer(rsa));
        foreach (var host in (string[])["plain", "rules", "limit", "both"])
        {
            var copy = request.Clone();
            copy.Attributes.Request.Http.Host = host + ".example.com";
            copy.Attributes.Request.Http.Headers[":authority"] = host + ".example.com";
            _readers[host] = new global::Sidecars.Benchmarks.Envoy.PayloadReader(Google.Protobuf.MessageExtensions.ToByteArray(copy));
            var answer = _adapter.Answer(global::Sidecars.Envoy.Wire.EnvoyWire.Check.RequestMarshaller.ContextualDeserializer(_readers[host])).Result;
            if (answer.StatusCode != 0)
            {
                throw new InvalidOperationException($"route {host} must allow the benchmark request: {answer.ToMessage()}");
            }
        }
    }

    private int Wire(string host) => BenchTokens.Wire(_adapter, _readers[host], _writer);

    [Benchmark(Baseline = true, Description = "service route, requirement only")]
    public int Plain() => Wire("plain");

    [Benchmark(Description = "+ 5 rules")]
    public int Rules() => Wire("rules");

    [Benchmark(Description = "+ 1 limit")]
    public int Limit() => Wire("limit");

    [Benchmark(Description = "+ 5 rules + 1 limit")]
    public int Both() => Wire("both");
}
