using System.Text;
using Envoy.Extensions.Common.Ratelimit.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Sidecars.Envoy.RateLimiting;
using Sidecars.Envoy.Wire;
using Sidecars.RateLimiting;
using Sidecars.Tests.Infrastructure;
using Entry = Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor.Types.Entry;
using Override = Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor.Types.RateLimitOverride;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// The ShouldRateLimit reader (issue 8): where it fills the core's query straight from the bytes, that query is the
/// one the generated parser's message maps to, field for field; everything else falls back to that parse.
/// </summary>
public sealed class RateLimitRequestReaderTests
{
    private static RateLimitRequest EnvoyRequest()
    {
        var request = new RateLimitRequest { Domain = "edge", HitsAddend = 2 };
        request.Descriptors.Add(Descriptor(("remote_address", "203.0.113.7")));
        var orders = Descriptor(("destination_cluster", "orders"), ("path", "/orders/1"));
        orders.HitsAddend = 5;
        request.Descriptors.Add(orders);
        var global = Descriptor(("generic_key", "global"));
        global.Limit = new Override { RequestsPerUnit = 30, Unit = global::Envoy.Type.V3.RateLimitUnit.Minute };
        request.Descriptors.Add(global);
        return request;
    }

    private static RateLimitDescriptor Descriptor(params (string Key, string Value)[] entries)
    {
        var descriptor = new RateLimitDescriptor();
        foreach (var (key, value) in entries)
        {
            descriptor.Entries.Add(new Entry { Key = key, Value = value });
        }

        return descriptor;
    }

    /// <summary>The query the generated parser's message maps to: what every fast reading must equal.</summary>
    private static string Expected(RateLimitRequest request)
    {
        var query = new RateLimitQuery();
        RateLimitServiceAdapter.Map(request, query);
        return Describe(query);
    }

    private static string Describe(RateLimitQuery query)
    {
        var text = new StringBuilder();
        text.Append("domain=").Append(query.DomainName).Append(" hits=").Append(query.HitsAddend);
        for (var d = 0; d < query.DescriptorCount; d++)
        {
            var input = query.Descriptors[d];
            text.Append(" | hits=").Append(input.HitsAddend).Append(" override=").Append(input.HasOverride)
                .Append('/').Append(input.OverrideRequestsPerUnit).Append('/').Append(input.OverrideUnit);
            foreach (var entry in query.EntriesOf(d))
            {
                text.Append(" [").Append(entry.KeyIn(query.Text)).Append('=').Append(entry.ValueIn(query.Text)).Append(']');
            }
        }

        return text.ToString();
    }

    [Fact]
    public void Envoys_request_is_read_straight_into_the_query_it_maps_to()
    {
        var request = EnvoyRequest();
        var call = EnvoyWire.ReadRateLimit(request.ToByteArray());

        Assert.Null(call.Request);
        Assert.Equal(Expected(request), Describe(call.Query!));
        Assert.Equal(request, call.ToRequest());
        Assert.Equal("domain=edge hits=2 | hits=-1 override=False/0/Unknown [remote_address=203.0.113.7] | hits=5 override=False/0/Unknown [destination_cluster=orders] [path=/orders/1] | hits=-1 override=True/30/Minute [generic_key=global]", Describe(call.Query!));
        call.Release();
    }

    [Fact]
    public void A_released_call_is_reused_empty()
    {
        var first = EnvoyWire.ReadRateLimit(EnvoyRequest().ToByteArray());
        first.Release();
        var small = new RateLimitRequest { Domain = "d" };
        small.Descriptors.Add(Descriptor(("k", "v")));
        var second = EnvoyWire.ReadRateLimit(small.ToByteArray());

        Assert.Same(first, second);
        Assert.Equal(Expected(small), Describe(second.Query!));
        second.Release();
    }

    public static TheoryData<string, byte[]> LeftToTheParser()
    {
        var envoy = EnvoyRequest().ToByteArray();
        var data = new TheoryData<string, byte[]>
        {
            // Singular fields twice: the parser's last-one-wins (and merge, for messages) is left to it.
            { "domain twice", [.. envoy, .. new RateLimitRequest { Domain = "other" }.ToByteArray()] },
            { "hits twice", [.. envoy, .. new RateLimitRequest { HitsAddend = 9 }.ToByteArray()] },
            { "a known field with another wire type", [.. envoy, 0x0D, 1, 2, 3, 4] },
            { "a group", [.. envoy, 0x23, 0x24] },
            { "a length past the end", [0x0A, 0x7F, (byte)'e'] },
            { "invalid UTF-8 in the domain", [0x0A, 0x02, 0xC3, 0x28] },
            { "U+FFFD in a value", new RateLimitRequest { Domain = "d", Descriptors = { Descriptor(("k", "\uFFFD")) } }.ToByteArray() },
        };

        var unit = new RateLimitRequest { Domain = "d" };
        var descriptor = Descriptor(("k", "v"));
        descriptor.Limit = new Override { RequestsPerUnit = 1, Unit = (global::Envoy.Type.V3.RateLimitUnit)9 };
        unit.Descriptors.Add(descriptor);
        data.Add("an override unit the service refuses", unit.ToByteArray());

        var many = new RateLimitRequest { Domain = "d" };
        for (var i = 0; i <= RateLimitRequestReader.MaxDescriptors; i++)
        {
            many.Descriptors.Add(Descriptor(("k", "v")));
        }

        data.Add("more descriptors than the reader takes", many.ToByteArray());
        return data;
    }

    [Theory]
    [MemberData(nameof(LeftToTheParser))]
    public void What_the_reader_cannot_vouch_for_takes_the_lenient_parse(string why, byte[] bytes)
    {
        var call = EnvoyWire.ReadRateLimit(bytes);

        Assert.True(call.Query is null, why);
        Assert.NotNull(call.Request);
        Assert.Equal(EnvoyWire.ReadRateLimitRequest(bytes), call.Request);
    }

    [Fact]
    public async Task Too_many_descriptors_are_refused_with_the_same_words_either_way()
    {
        using var engine = new TestEngine("domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 10 }\n");
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions());
        var limit = engine.Engine.Options.MaxDescriptors;
        var over = new RateLimitRequest { Domain = "d" };
        for (var i = 0; i <= limit; i++)
        {
            over.Descriptors.Add(Descriptor(("k", "v")));
        }

        var call = EnvoyWire.ReadRateLimit(over.ToByteArray());
        var read = await Assert.ThrowsAsync<RpcException>(() => adapter.Answer(call, CancellationToken.None));
        var parsed = await Assert.ThrowsAsync<RpcException>(() => adapter.Answer(over, CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, read.StatusCode);
        Assert.Equal(parsed.Status.Detail, read.Status.Detail);
    }

    [Fact]
    public void Random_and_mutated_requests_read_as_the_parser_reads_them()
    {
        var random = new Random(8);
        var fast = 0;
        for (var i = 0; i < 6000; i++)
        {
            var request = RandomRequest(random);
            var bytes = request.ToByteArray();
            var mutated = i % 3 != 0;
            if (mutated)
            {
                bytes = Mutate(random, bytes);
            }

            var call = EnvoyWire.ReadRateLimit(bytes);
            var parsed = EnvoyWire.ReadRateLimitRequest(bytes);
            if (call.Query is { } query)
            {
                // Read fast: the parser must read the same bytes, and its message map to the same query.
                Assert.False(ReferenceEquals(parsed, EnvoyWire.UnreadableRateLimitRequest), $"case {i}: the reader took a message the parser refuses");
                Assert.Equal(Expected(parsed), Describe(query));
                fast++;
                call.Release();
            }
            else
            {
                Assert.Equal(parsed, call.Request);
                Assert.False(!mutated && Plain(request), $"case {i}: a plain request was left to the parser");
            }
        }

        Assert.True(fast > 1800, $"only {fast} of 6000 cases were read fast");
    }

    /// <summary>What the fast reading must always take: no U+FFFD, no refused unit, at most the reader's bounds.</summary>
    private static bool Plain(RateLimitRequest request) =>
        !request.Domain.Contains('\uFFFD', StringComparison.Ordinal)
        && request.Descriptors.All(d => d.Limit is null || RateLimitServiceAdapter.OverrideUnit(d.Limit.Unit) != RateLimitUnit.Unknown)
        && request.Descriptors.SelectMany(d => d.Entries).All(e => !e.Key.Contains('\uFFFD', StringComparison.Ordinal) && !e.Value.Contains('\uFFFD', StringComparison.Ordinal));

    private static readonly string[] Texts = ["", "remote_address", "10.0.0.1", "/orders/1?x=1", "générique", "日本", "\uFFFD", "a|b=c#d\\e", "😀"];

    private static RateLimitRequest RandomRequest(Random random)
    {
        var request = new RateLimitRequest { Domain = Texts[random.Next(Texts.Length)], HitsAddend = random.Next(4) == 0 ? (uint)random.Next() : 0 };
        for (var d = random.Next(5); d > 0; d--)
        {
            var descriptor = new RateLimitDescriptor();
            for (var e = random.Next(4); e > 0; e--)
            {
                descriptor.Entries.Add(new Entry { Key = Texts[random.Next(Texts.Length)], Value = Texts[random.Next(Texts.Length)] });
            }

            if (random.Next(4) == 0)
            {
                descriptor.Limit = new Override { RequestsPerUnit = (uint)random.Next(), Unit = (global::Envoy.Type.V3.RateLimitUnit)random.Next(9) };
            }

            if (random.Next(4) == 0)
            {
                descriptor.HitsAddend = random.Next(2) == 0 ? 0UL : (ulong)random.NextInt64() * 3;
            }

            request.Descriptors.Add(descriptor);
        }

        return request;
    }

    private static byte[] Mutate(Random random, byte[] bytes)
    {
        var list = bytes.ToList();
        switch (random.Next(5))
        {
            case 0 when list.Count > 0:
                list[random.Next(list.Count)] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when list.Count > 0:
                list.RemoveRange(random.Next(list.Count), 1);
                break;
            case 2:
                // An unknown field of each wire type the parser skips.
                byte[][] unknown = [[0x78, 0x01], [0x79, 1, 2, 3, 4, 5, 6, 7, 8], [0x7A, 0x01, 0x00], [0x7D, 1, 2, 3, 4]];
                list.InsertRange(0, unknown[random.Next(unknown.Length)]);
                break;
            case 3:
                list.AddRange(new RateLimitRequest { Descriptors = { new RateLimitDescriptor { HitsAddend = 7, Entries = { new Entry { Key = "x" } } } } }.ToByteArray());
                break;
            default:
                list.Add((byte)random.Next(256));
                break;
        }

        return [.. list];
    }

    [Fact]
    public void A_descriptor_hits_wrapper_and_unknown_fields_inside_every_message_read_as_the_parser_reads_them()
    {
        var descriptor = Descriptor(("k", "v"));
        descriptor.HitsAddend = 0;
        var request = new RateLimitRequest { Domain = "d", Descriptors = { descriptor } };
        byte[] unknown = [0xF8, 0x07, 0x05];
        var entry = new Entry { Key = "k", Value = "v" }.ToByteArray().Concat(unknown).ToArray();
        var wrapper = new UInt64Value { Value = 0 }.ToByteArray().Concat(unknown).ToArray();
        var inner = new List<byte> { 0x0A, (byte)entry.Length };
        inner.AddRange(entry);
        inner.AddRange(unknown);
        inner.Add(0x1A);
        inner.Add((byte)wrapper.Length);
        inner.AddRange(wrapper);
        byte[] bytes = [0x0A, 0x01, (byte)'d', 0x12, (byte)inner.Count, .. inner];

        var call = EnvoyWire.ReadRateLimit(bytes);

        Assert.NotNull(call.Query);
        Assert.Equal(Expected(EnvoyWire.ReadRateLimitRequest(bytes)), Describe(call.Query!));
        Assert.Equal(0, call.Query!.Descriptors[0].HitsAddend);
        Assert.Equal(request.Descriptors[0].HitsAddend, EnvoyWire.ReadRateLimitRequest(bytes).Descriptors[0].HitsAddend);
        call.Release();
    }
}
