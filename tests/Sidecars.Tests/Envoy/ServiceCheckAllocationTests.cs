using Google.Protobuf;
using Sidecars.Tests.Authorization.Services;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// Issue 9's hot-path budget: a service route that authenticates a cached token and evaluates five rules allocates
/// nothing per call; charging one in-memory bucket too allocates only the per-call response (its RateLimit headers).
/// </summary>
public sealed class ServiceCheckAllocationTests
{
    private const string Rules = """
              - claim: { name: tenant, in: [acme, globex] }
              - claim: { name: groups, contains: dev }
              - header: { name: x-env, prefix: pr }
              - method: [GET, HEAD]
              - not: { header: { name: x-debug, exists: true } }
        """;

    /// <summary>
    /// The per-call answer with RateLimit headers (measured 192 B; 208 B while its sizes were kept in it): the answer object, which shares the kept allow's
    /// bytes and holds the remaining count and reset for the marshaller to write, and its completed task. It was
    /// 1,696 B while the headers were messages and strings, then 552 B while they were copied into an array per call.
    /// </summary>
    private const long LimitedBudgetBytes = 250;

    private static ServiceHarness Harness(string limits) => new(("svc.yaml", $"""
        service: svc
        owns: [{"{"} host: svc.example.com {"}"}]
        routes:
          - name: r
            match: {"{"} path_prefix: / {"}"}
            requires: {"{"} provider: corp {"}"}
            rules:
        {Rules}
        {limits}
        """));

    private static long PerCall(ServiceHarness harness, global::Envoy.Service.Auth.V3.CheckRequest request)
    {
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(0, harness.Adapter.Answer(request).Result.StatusCode);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            harness.Adapter.Answer(request);
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
    }

    private static global::Envoy.Service.Auth.V3.CheckRequest Request() =>
        ServiceHarness.Request("svc.example.com", "/a", token: Token(""","tenant":"acme","groups":["dev","ops"] """), headers: [("x-env", "prod")], sourceIp: "10.0.0.1");

    /// <summary>
    /// On the wire, the source address a <c>source_ip</c> rule reads is taken from the request's own bytes: the call
    /// allocates what reading any Check does, the small copy of <c>source</c>, and the answer — no AttributeContext, no
    /// address object or string (measured 1,416 B against 1,216 B for the same request on a shared route: the difference
    /// is the answer with its RateLimit headers).
    /// </summary>
    [Fact]
    public void On_the_wire_a_source_ip_rule_and_a_limit_add_only_the_answer()
    {
        var harness = new ServiceHarness(("svc.yaml", """
            service: svc
            owns: [{ host: svc.example.com }]
            routes:
              - name: r
                match: { path_prefix: / }
                requires: { provider: corp }
                rules:
                  - source_ip: [10.0.0.0/8]
                  - claim: { name: tenant, in: [acme] }
                rate_limits:
                  - { name: per-ip, per: [source_ip], unit: second, requests_per_unit: 1000000000 }
            """), ("shared.yaml", """
            routes:
              - { name: shared, match: { host: shared.example.com, path_prefix: / }, requires: { provider: corp } }
            """));
        var token = Token(""","tenant":"acme" """);
        ReadOnlyMemory<byte> limited = ServiceHarness.Request("svc.example.com", "/a", token: token, sourceIp: "10.1.2.3").ToByteArray();
        ReadOnlyMemory<byte> shared = ServiceHarness.Request("shared.example.com", "/a", token: token, sourceIp: "10.1.2.3").ToByteArray();
        long Measure(ReadOnlyMemory<byte> bytes)
        {
            for (var i = 0; i < 10; i++)
            {
                Assert.Equal(0, harness.Adapter.Answer(global::Sidecars.Envoy.Wire.EnvoyWire.ReadCheck(bytes)).Result.StatusCode);
            }

            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                harness.Adapter.Answer(global::Sidecars.Envoy.Wire.EnvoyWire.ReadCheck(bytes));
            }

            return (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
        }

        var sharedBytes = Measure(shared);
        var limitedBytes = Measure(limited);
        Assert.True(limitedBytes - sharedBytes <= LimitedBudgetBytes, $"check+limit on the wire allocated {limitedBytes} B per call against {sharedBytes} B on a shared route; the difference may be at most the answer's {LimitedBudgetBytes} B");
    }

    [Fact]
    public void Five_rules_on_a_cached_token_allocate_nothing()
    {
        var perCall = PerCall(Harness(string.Empty), Request());
        Assert.True(perCall == 0, $"a service route with five rules allocated {perCall} bytes per call; the budget is 0");
    }

    [Fact]
    public void Charging_one_bucket_allocates_only_the_answer()
    {
        var harness = Harness("""
                rate_limits:
                  - { name: per-user, per: [claim:sub], unit: second, requests_per_unit: 1000000000 }
            """);
        var perCall = PerCall(harness, Request());
        Assert.True(perCall <= LimitedBudgetBytes, $"a service route with five rules and a limit allocated {perCall} bytes per call; the budget is {LimitedBudgetBytes}");
    }
}
