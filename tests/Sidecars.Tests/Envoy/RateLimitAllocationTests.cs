using Envoy.Extensions.Common.Ratelimit.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Sidecars.Envoy.RateLimiting;
using Sidecars.Envoy.Wire;
using Sidecars.RateLimiting;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// Issue 8, deliverable 3: a ShouldRateLimit with 3 matched descriptors allocates only the response's per-call
/// parts (the response, its status list, a status and a reset duration per descriptor); the limit each status
/// reports is built once per compiled limit.
/// </summary>
public sealed class RateLimitAllocationTests
{
    // Measured: the RateLimitResponse with the three RepeatedFields its generated class creates, the 3-slot status
    // array, and a DescriptorStatus and a Duration per descriptor; nothing else. The measured figure is the budget,
    // so any new per-call object fails this test (docs/BENCHMARKS.md has the call before and after).
    private const long ThreeDescriptorBudgetBytes = 512;

    // On the wire, read straight into the query: the encoded answer's array, its RateLimitAnswer and the completed Task.
    private const long WireBudgetBytes = 224;

    private const string Config = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: { unit: second, requests_per_unit: 4000000000 }
          - key: destination_cluster
            value: orders
            descriptors:
              - key: path
                rate_limit: { unit: minute, requests_per_unit: 4000000000, name: orders }
          - key: generic_key
            value: global
            rate_limit: { unit: hour, requests_per_unit: 4000000000 }
        """;

    private static RateLimitRequest Request()
    {
        var request = new RateLimitRequest { Domain = "edge" };
        foreach (var entries in new[] { new[] { ("remote_address", "203.0.113.7") }, [("destination_cluster", "orders"), ("path", "/orders/1")], [("generic_key", "global")] })
        {
            var descriptor = new RateLimitDescriptor();
            foreach (var (key, value) in entries)
            {
                descriptor.Entries.Add(new RateLimitDescriptor.Types.Entry { Key = key, Value = value });
            }

            request.Descriptors.Add(descriptor);
        }

        return request;
    }

    private static RateLimitResponse Decide(TestEngine engine, RateLimitServiceAdapter adapter, RateLimitRequest request)
    {
        var query = RateLimitQuery.Rent();
        try
        {
            RateLimitServiceAdapter.Map(request, query);
            var pending = engine.Engine.DecideAsync(query);
            Assert.True(pending.IsCompletedSuccessfully);
            return adapter.BuildResponse(query);
        }
        finally
        {
            RateLimitQuery.Return(query);
        }
    }

    [Fact]
    public void Three_matched_descriptors_allocate_only_the_response()
    {
        using var engine = new TestEngine(Config);
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions());
        var request = Request();
        var first = Decide(engine, adapter, request);
        Assert.Equal(3, first.Statuses.Count);
        Assert.All(first.Statuses, s => Assert.NotNull(s.CurrentLimit));

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Decide(engine, adapter, request);
        }

        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
        Assert.True(perCall <= ThreeDescriptorBudgetBytes, $"3 descriptors allocated {perCall} bytes per call; the budget is {ThreeDescriptorBudgetBytes}");
    }

    [Fact]
    public void The_reported_limit_is_built_once_per_compiled_limit_and_reads_as_before()
    {
        using var engine = new TestEngine(Config);
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions());
        var request = Request();
        var first = Decide(engine, adapter, request);
        var second = Decide(engine, adapter, request);

        Assert.Same(first.Statuses[1].CurrentLimit, second.Statuses[1].CurrentLimit);
        Assert.NotSame(first.Statuses[1], second.Statuses[1]);
        Assert.Equal((4_000_000_000u, RateLimitResponse.Types.RateLimit.Types.Unit.Minute, "orders"), (second.Statuses[1].CurrentLimit.RequestsPerUnit, second.Statuses[1].CurrentLimit.Unit, second.Statuses[1].CurrentLimit.Name));
        Assert.Equal(string.Empty, second.Statuses[0].CurrentLimit.Name);
        Assert.Equal(RateLimitResponse.Types.RateLimit.Types.Unit.Hour, second.Statuses[2].CurrentLimit.Unit);
    }

    [Fact]
    public async Task Three_descriptors_on_the_wire_allocate_only_the_encoded_answer()
    {
        using var engine = new TestEngine(Config);
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions());
        ReadOnlyMemory<byte> bytes = Request().ToByteArray();
        var first = await adapter.Answer(EnvoyWire.ReadRateLimit(bytes), CancellationToken.None);
        Assert.Equal(RateLimitResponse.Types.Code.Ok, first.OverallCode);
        Assert.Equal(3, first.ToMessage().Statuses.Count);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            _ = adapter.Answer(EnvoyWire.ReadRateLimit(bytes), CancellationToken.None);
        }

        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
        Assert.True(perCall <= WireBudgetBytes, $"3 descriptors on the wire allocated {perCall} bytes per call; the budget is {WireBudgetBytes}");
    }
}
