using BenchmarkDotNet.Attributes;
using Envoy.Extensions.Common.Ratelimit.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Sidecars.Config;
using Sidecars.Envoy.RateLimiting;
using Sidecars.Envoy.Wire;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;

namespace Sidecars.Benchmarks.Envoy;

/// <summary>
/// One <c>ShouldRateLimit</c> at the gRPC level, in process, with the in-memory store: 1 descriptor
/// (<c>remote_address</c>) and 3 (plus <c>destination_cluster → path</c> and a <c>generic_key</c>), every one
/// matched and allowed. Baseline: the core engine deciding the same 3 descriptors from a filled query, so the
/// ratios say what mapping, the response messages and the wire add.
/// </summary>
public class RateLimitServiceBenchmarks
{
    private const string Config = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: { unit: second, requests_per_unit: 4000000000 }
          - key: destination_cluster
            value: orders
            descriptors:
              - key: path
                rate_limit: { unit: minute, requests_per_unit: 4000000000 }
          - key: generic_key
            value: global
            rate_limit: { unit: hour, requests_per_unit: 4000000000 }
        """;

    private RateLimitEngine _engine = null!;
    private InMemoryBucketStore _store = null!;
    private RateLimitServiceAdapter _adapter = null!;
    private RateLimitQuery _coreQuery = null!;
    private RateLimitRequest _one = null!;
    private RateLimitRequest _three = null!;
    private PayloadReader _oneBytes = null!;
    private PayloadReader _threeBytes = null!;
    private readonly PayloadWriter _writer = new();
    private readonly BenchCallContext _context = new();

    [GlobalSetup]
    public void Setup()
    {
        var state = new ConfigState();
        state.Publish(ConfigLoader.Compile([new ConfigSource("bench.yaml", Config)], new ConfigDiagnostics())!);
        _store = new InMemoryBucketStore(TimeProvider.System);
        _engine = new RateLimitEngine(state, _store);
        _adapter = new RateLimitServiceAdapter(_engine, new RateLimitHeadersOptions());

        _one = Request(1);
        _three = Request(3);
        _oneBytes = new PayloadReader(_one.ToByteArray());
        _threeBytes = new PayloadReader(_three.ToByteArray());
        _coreQuery = new RateLimitQuery();
        RateLimitServiceAdapter.Map(_three, _coreQuery);

        var response = _adapter.ShouldRateLimit(_three, _context).Result;
        if (response.OverallCode != RateLimitResponse.Types.Code.Ok || response.Statuses.Count != 3 || response.Statuses[1].CurrentLimit is null)
        {
            throw new InvalidOperationException("every descriptor must match and be allowed: " + response);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _store.Dispose();

    /// <summary>As Envoy's rate limit filter sends it: remote_address, destination_cluster + path, generic_key.</summary>
    internal static RateLimitRequest Request(int descriptors)
    {
        var request = new RateLimitRequest { Domain = "edge" };
        request.Descriptors.Add(Descriptor(("remote_address", "203.0.113.7")));
        if (descriptors > 1)
        {
            request.Descriptors.Add(Descriptor(("destination_cluster", "orders"), ("path", "/orders/1")));
            request.Descriptors.Add(Descriptor(("generic_key", "global")));
        }

        return request;
    }

    private static RateLimitDescriptor Descriptor(params (string Key, string Value)[] entries)
    {
        var descriptor = new RateLimitDescriptor();
        foreach (var (key, value) in entries)
        {
            descriptor.Entries.Add(new RateLimitDescriptor.Types.Entry { Key = key, Value = value });
        }

        return descriptor;
    }

    [Benchmark(Baseline = true, Description = "Core engine only, 3 descriptors")]
    public RateLimitCode CoreThree() => _engine.DecideAsync(_coreQuery).Result;

    // The server's entry: the answer encoded straight from the decision (RateLimitAnswer).
    [Benchmark(Description = "ShouldRateLimit adapter, 1 descriptor")]
    public RateLimitAnswer AdapterOne() => _adapter.Answer(_one, CancellationToken.None).Result;

    [Benchmark(Description = "ShouldRateLimit adapter, 3 descriptors")]
    public RateLimitAnswer AdapterThree() => _adapter.Answer(_three, CancellationToken.None).Result;

    [Benchmark(Description = "ShouldRateLimit on the wire, 1 descriptor")]
    public int WireOne() => Wire(_oneBytes);

    [Benchmark(Description = "ShouldRateLimit on the wire, 3 descriptors")]
    public int WireThree() => Wire(_threeBytes);

    // What the load project's floor does per call: protobuf's parse, then a pre-built answer serialized.
    [Benchmark(Description = "Floor's work on the wire, 3 descriptors")]
    public int FloorThree()
    {
        // As protoc's gRPC code marshals: parse from the payload sequence, write to the context's buffer writer.
        var request = RateLimitRequest.Parser.ParseFrom(_threeBytes.PayloadAsReadOnlySequence());
        var answer = FloorAnswers[request.Descriptors.Count];
        _writer.Reset();
        _writer.SetPayloadLength(answer.CalculateSize());
        answer.WriteTo(_writer.GetBufferWriter());
        _writer.Complete();
        return _writer.Written;
    }

    private static readonly RateLimitResponse[] FloorAnswers = [.. Enumerable.Range(0, 4).Select(n =>
    {
        var response = new RateLimitResponse { OverallCode = RateLimitResponse.Types.Code.Ok };
        for (var i = 0; i < n; i++)
        {
            response.Statuses.Add(new RateLimitResponse.Types.DescriptorStatus { Code = RateLimitResponse.Types.Code.Ok });
        }

        return response;
    })];

    private int Wire(PayloadReader bytes)
    {
        var request = EnvoyWire.ShouldRateLimit.RequestMarshaller.ContextualDeserializer(bytes);
        var response = _adapter.Answer(request, CancellationToken.None).Result;
        _writer.Reset();
        EnvoyWire.ShouldRateLimit.ResponseMarshaller.ContextualSerializer(response, _writer);
        return _writer.Written;
    }
}
