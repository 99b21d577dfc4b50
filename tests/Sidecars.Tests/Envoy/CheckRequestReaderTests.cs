using System.Globalization;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.Wire;
using Sidecars.Tests.Server.Fuzz;
using Xunit.Abstractions;
using static Sidecars.Tests.Server.WireConfig;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// The Check reader that keeps the headers map as bytes must read every message exactly as the lenient marshaller
/// does: the same request, the same header for every name, the same unreadable verdict. Checked on hand-made edge
/// cases of the map and its enclosing messages, and on thousands of the fuzz suite's generated and mutated requests.
/// </summary>
public sealed class CheckRequestReaderTests(ITestOutputHelper output)
{
    private static byte[] Varint(ulong value)
    {
        List<byte> bytes = [];
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    private static byte[] Entry(string key, string value) => Field(3, Field(1, Utf8(key)), Field(2, Utf8(value)));

    private static byte[] Message(params byte[][] http) => Field(1, Field(4, Field(2, [.. http.SelectMany(b => b)])));

    private static readonly byte[] Basics = [.. Field(2, Utf8("GET")), .. Field(4, Utf8("/orders/1")), .. Field(5, Utf8("orders.example.com"))];

    /// <summary>Reads <paramref name="bytes"/> both ways and asserts they agree; returns whether the headers were kept as bytes.</summary>
    private static bool AssertSameReading(byte[] bytes, string because)
    {
        var expected = EnvoyWire.ReadCheckRequest(bytes);
        var call = EnvoyWire.ReadCheck(bytes);
        if (ReferenceEquals(expected, EnvoyWire.UnreadableCheckRequest))
        {
            Assert.True(ReferenceEquals(call, CheckCall.Unreadable), because + ": the lenient marshaller found it unreadable, the reader did not");
            return false;
        }

        Assert.False(ReferenceEquals(call, CheckCall.Unreadable), because + ": the reader found unreadable what the lenient marshaller read");
        if (call.Request is null)
        {
            // Only the HTTP attributes were read, the rest checked: the generated parser must read the whole of it too.
            var parsed = global::Envoy.Service.Auth.V3.CheckRequest.Parser.ParseFrom(bytes);
            Assert.True(parsed.Equals(expected), because + ": the reader checked well-formed what the generated parser reads otherwise");
        }
        else if (!expected.Equals(call.Request))
        {
            Assert.Fail($"{because}: read {Convert.ToHexString(call.Request.ToByteArray())} where the lenient marshaller read {Convert.ToHexString(expected.ToByteArray())}");
        }

        var actual = call.Http?.Clone();
        if (call.Headers is { } headers)
        {
            Assert.NotNull(actual);
            Assert.Empty(call.Http!.Headers);
            for (var i = 0; i < headers.Count; i++)
            {
                actual.Headers[headers.Key(i)] = headers.Value(i);
            }
        }

        var expectedHttp = expected.Attributes?.Request?.Http;
        if (!Equals(expectedHttp, actual))
        {
            Assert.Fail($"{because}: read HTTP attributes {Hex(actual)} where the lenient marshaller read {Hex(expectedHttp)}");
        }

        // And through the view the core reads: every header name, and one nobody sent.
        if (expectedHttp is not null)
        {
            var viewOld = CheckRequestView.Rent(expectedHttp);
            var names = expectedHttp.Headers.Keys.Append("not-sent").ToList();
            var values = names.Select(viewOld.Header).ToList();
            CheckRequestView.Return(viewOld);
            var viewNew = CheckRequestView.Rent(call.Http!, call.Headers);
            for (var i = 0; i < names.Count; i++)
            {
                Assert.Equal(values[i], viewNew.Header(names[i]));
                Assert.Equal(values[i], viewNew.Header(names[i]));
            }

            CheckRequestView.Return(viewNew);
        }

        return call.Request is null;
    }

    private static string Hex(IMessage? message) => message is null ? "(none)" : Convert.ToHexString(message.ToByteArray());

    [Fact]
    public void A_request_as_Envoy_sends_it_keeps_its_headers_as_bytes_and_reads_the_same()
    {
        var bytes = Message(Field(1, Utf8("req-1")), Basics, Entry(":authority", "orders.example.com"), Entry(":method", "GET"),
            Entry("authorization", "Bearer abc.def.ghi"), Entry("x-request-id", "7f"), Field(6, Utf8("https")), Entry("user-agent", "curl/8"));
        Assert.True(AssertSameReading(bytes, "Envoy's request"));
    }

    [Theory]
    [InlineData("duplicate key: the last entry wins")]
    [InlineData("entry without a value")]
    [InlineData("entry without a key")]
    [InlineData("empty entry")]
    [InlineData("key repeated within one entry")]
    [InlineData("non-ASCII key and value")]
    [InlineData("no headers at all")]
    [InlineData("header_map beside the map")]
    [InlineData("unknown fields at every level")]
    [InlineData("non-minimal length varints")]
    public void Edge_cases_of_the_map_read_as_the_generated_parser_reads_them(string edge)
    {
        byte[] bytes = edge switch
        {
            "duplicate key: the last entry wins" => Message(Basics, Entry("authorization", "Bearer first"), Entry("x", "1"), Entry("authorization", "Bearer last")),
            "entry without a value" => Message(Basics, Field(3, Field(1, Utf8("authorization")))),
            "entry without a key" => Message(Basics, Field(3, Field(2, Utf8("v")))),
            "empty entry" => Message(Basics, Field(3)),
            "key repeated within one entry" => Message(Basics, Field(3, Field(1, Utf8("a")), Field(2, Utf8("v")), Field(1, Utf8("b")))),
            "non-ASCII key and value" => Message(Basics, Entry("x-ünï", "värde ✓"), Entry("authorization", "Bearer é")),
            "no headers at all" => Message(Basics),
            "header_map beside the map" => Message(Basics, Entry("a", "1"), Field(13, Field(1, Field(1, Utf8("b")), Field(2, Utf8("2"))))),
            "unknown fields at every level" => [.. Field(1, [.. Field(99, Utf8("x")), .. Field(4, [.. Field(77, [1, 2]), .. Field(2, [.. Basics, .. Entry("a", "1"), .. Varint(200 << 3), .. Varint(5)])])]), .. Field(55, [9])],
            "non-minimal length varints" => [0x0A, .. LongVarint(26), 0x22, .. LongVarint(22), 0x12, .. LongVarint(18), .. Entry("a", "1"), .. Entry("bb", "22")],
            _ => throw new ArgumentException(edge),
        };
        Assert.False(ReferenceEquals(EnvoyWire.ReadCheckRequest(bytes), EnvoyWire.UnreadableCheckRequest), edge + ": the case itself must be readable");
        output.WriteLine($"{edge}: fast reading: {AssertSameReading(bytes, edge)}");
    }

    /// <summary><paramref name="value"/> as a varint padded to 3 bytes (0x80 continuation bytes), which parsers accept.</summary>
    private static byte[] LongVarint(int value) => [(byte)((value & 0x7F) | 0x80), (byte)(((value >> 7) & 0x7F) | 0x80), (byte)(value >> 14)];

    [Theory]
    [InlineData("attributes twice (the parser merges them)")]
    [InlineData("http twice")]
    [InlineData("an entry with a third field")]
    [InlineData("a key sent as a varint")]
    [InlineData("invalid UTF-8 in a value")]
    [InlineData("an entry cut short")]
    [InlineData("a group at the http level")]
    public void What_the_reader_leaves_alone_the_lenient_marshaller_reads(string edge)
    {
        byte[] bytes = edge switch
        {
            "attributes twice (the parser merges them)" => [.. Message(Basics, Entry("a", "1")), .. Message(Entry("a", "2"), Entry("b", "3"))],
            "http twice" => Field(1, Field(4, [.. Field(2, [.. Basics, .. Entry("a", "1")]), .. Field(2, Entry("a", "2"))])),
            "an entry with a third field" => Message(Basics, Field(3, Field(1, Utf8("a")), Field(2, Utf8("v")), Field(3, Utf8("?")))),
            "a key sent as a varint" => Message(Basics, Field(3, [0x08, 0x05], Field(2, Utf8("v")))),
            "invalid UTF-8 in a value" => Message(Basics, Field(3, Field(1, Utf8("authorization")), Field(2, [0x42, 0xC3, 0x28]))),
            "an entry cut short" => Message(Basics, [0x1A, 0x05, 0x0A, 0x01]),
            "a group at the http level" => Message(Basics, Entry("a", "1"), [0x7B, 0x7C]),
            _ => throw new ArgumentException(edge),
        };
        Assert.False(AssertSameReading(bytes, edge), edge + ": the reader should have left it to the lenient marshaller");
    }

    [Fact]
    public void Thousands_of_generated_and_mutated_requests_read_the_same_both_ways()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SIDECARS_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        output.WriteLine($"SIDECARS_FUZZ_SEED={seed}");
        var random = new Random(seed);
        int fast = 0, total = 6000;
        for (var i = 0; i < total; i++)
        {
            // The fuzz suite's requests put invalid UTF-8 nearly everywhere (the lenient path); valid ones reach the fast reading.
            var bytes = (i % 3) switch
            {
                0 => FuzzInputs.CheckRequest(random).Body,
                1 => ValidRequest(random),
                _ => FuzzInputs.Mutate(random, ValidRequest(random)),
            };
            if (AssertSameReading(bytes, $"case {i} (seed {seed}): {Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 512)))}"))
            {
                fast++;
            }
        }

        output.WriteLine($"{fast} of {total} took the fast reading");
        Assert.True(fast > total / 4, $"only {fast} of {total} took the fast reading");
    }

    private static readonly string[] Names = [":authority", ":path", "authorization", "x-token", "cookie", "x-user-id", "", "ünï", "a"];

    /// <summary>A well-formed CheckRequest of valid UTF-8 with random headers (repeated, empty, partial entries), extras and unknown fields.</summary>
    private static byte[] ValidRequest(Random random)
    {
        List<byte[]> http = [];
        for (var i = random.Next(20); i > 0; i--)
        {
            var name = Utf8(Names[random.Next(Names.Length)]);
            var value = Utf8(random.Next(3) == 0 ? "Bearer " + random.Next() : new string('v', random.Next(0, 300)) + "✓");
            http.Add(random.Next(8) switch
            {
                0 => Field(3, Field(1, name)),
                1 => Field(3, Field(2, value)),
                2 => Field(3, Field(2, value), Field(1, name)),
                _ => Field(3, Field(1, name), Field(2, value)),
            });
        }

        http.Insert(random.Next(http.Count + 1), Field(2, Utf8("GET")));
        http.Insert(random.Next(http.Count + 1), Field(4, Utf8("/orders/" + random.Next(100))));
        http.Insert(random.Next(http.Count + 1), Field(5, Utf8("orders.example.com")));
        if (random.Next(4) == 0)
        {
            http.Insert(random.Next(http.Count + 1), [.. Varint(9 << 3), .. Varint((ulong)random.Next(1 << 20))]); // size, a varint
        }

        if (random.Next(5) == 0)
        {
            http.Add(Field(13, Field(1, Field(1, Utf8("k")), Field(2, Utf8("v")))));
        }

        if (random.Next(5) == 0)
        {
            http.Insert(random.Next(http.Count + 1), Field(random.Next(14, 300), Utf8("unknown")));
        }

        // The request time (a Timestamp: two varints), then everything Envoy sends around the request, in any order.
        List<byte[]> attributes = [Field(4, [.. (random.Next(2) == 0 ? Field(1, VarintField(1, 1_700_000_000), VarintField(2, 5)) : []), .. Field(2, [.. http.SelectMany(b => b)])])];
        if (random.Next(3) != 0)
        {
            attributes.Insert(random.Next(attributes.Count + 1), Field(1, Peer(random, "10.0.0.7", 51234)));
        }

        if (random.Next(3) != 0)
        {
            attributes.Insert(random.Next(attributes.Count + 1), Field(2, Peer(random, "10.0.0.9", 8443)));
        }

        if (random.Next(3) == 0)
        {
            attributes.Insert(random.Next(attributes.Count + 1), Field(10, Field(1, Utf8("ext")), Field(2, Utf8("v"))));
        }

        if (random.Next(3) == 0)
        {
            attributes.Insert(random.Next(attributes.Count + 1), Field(random.Next(2) == 0 ? 11 : 13, Metadata(random)));
        }

        if (random.Next(3) == 0)
        {
            attributes.Insert(random.Next(attributes.Count + 1), Field(12, Field(1, Utf8("orders.example.com"))));
        }

        byte[] message = Field(1, [.. attributes.SelectMany(b => b)]);
        return random.Next(5) == 0 ? [.. message, .. Field(random.Next(2, 1000), Utf8("tail"))] : message;
    }

    /// <summary>An AttributeContext.Peer: a socket address (protocol, address, port), a service, labels, a principal, a certificate.</summary>
    private static byte[] Peer(Random random, string address, ulong port)
    {
        List<byte[]> peer = [Field(1, Field(1, [.. VarintField(1, (ulong)random.Next(2)), .. Field(2, Utf8(address)), .. VarintField(3, port)]))];
        if (random.Next(2) == 0)
        {
            peer.Add(Field(2, Utf8("orders")));
            peer.Add(Field(3, Field(1, Utf8("app")), Field(2, Utf8("orders-✓"))));
        }

        if (random.Next(2) == 0)
        {
            peer.Add(Field(4, Utf8("spiffe://cluster.local/ns/shop/sa/orders")));
            peer.Add(Field(5, Utf8("-----BEGIN CERTIFICATE-----")));
        }

        return [.. peer.SelectMany(b => b)];
    }

    /// <summary>A Metadata: filter_metadata, a map of names to Structs, whose Values hold numbers (fixed64), strings, bools, lists and Structs.</summary>
    private static byte[] Metadata(Random random)
    {
        var number = Field(1, Field(1, Utf8("n")), Field(2, [0x11, .. BitConverter.GetBytes(random.NextDouble())]));
        var text = Field(1, Field(1, Utf8("s")), Field(2, Field(3, Utf8("väl"))));
        var flag = Field(1, Field(1, Utf8("b")), Field(2, VarintField(4, 1)));
        var list = Field(1, Field(1, Utf8("l")), Field(2, Field(6, Field(1, Field(3, Utf8("x"))), Field(1, VarintField(1, 0)))));
        var nested = Field(1, Field(1, Utf8("o")), Field(2, Field(5, text)));
        byte[] fields = [.. number, .. text, .. flag, .. list, .. nested];
        return Field(1, Field(1, Utf8(random.Next(2) == 0 ? "envoy.filters.http.jwt_authn" : "shop")), Field(2, fields));
    }

    [Theory]
    [InlineData("a peer's address given as a varint")]
    [InlineData("invalid UTF-8 in the source principal")]
    [InlineData("a metadata number sent as a varint")]
    [InlineData("a group inside the destination")]
    [InlineData("a Struct nested past the validator's depth")]
    [InlineData("a context extension cut short")]
    public void What_the_validator_cannot_vouch_for_takes_the_lenient_path(string edge)
    {
        var request = Field(4, Field(2, [.. Basics, .. Entry("authorization", "Bearer abc")]));
        byte[] around = edge switch
        {
            "a peer's address given as a varint" => Field(1, VarintField(1, 7)),
            "invalid UTF-8 in the source principal" => Field(1, Field(4, [0x61, 0xC3, 0x28])),
            "a metadata number sent as a varint" => Field(11, Field(1, Field(1, Utf8("f")), Field(2, Field(1, Field(1, Utf8("n")), Field(2, VarintField(2, 3)))))),
            "a group inside the destination" => Field(2, [0x0B, 0x0C]),
            "a Struct nested past the validator's depth" => Field(11, Field(1, Field(1, Utf8("f")), Field(2, DeepStruct(22)))),
            "a context extension cut short" => [0x52, 0x06, 0x0A, 0x01, 0x61],
            _ => throw new ArgumentException(edge),
        };
        byte[] bytes = Field(1, [.. around, .. request]);
        Assert.Null(CheckRequestReader.TryRead(bytes));
        AssertSameReading(bytes, edge);
    }

    /// <summary>A Struct holding a Struct holding… <paramref name="depth"/> deep.</summary>
    private static byte[] DeepStruct(int depth)
    {
        byte[] inner = [];
        for (var i = 0; i < depth; i++)
        {
            inner = Field(1, Field(1, Utf8("k")), Field(2, Field(5, inner)));
        }

        return inner;
    }

    [Fact]
    public void The_validator_vouches_only_for_what_the_generated_parser_reads()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SIDECARS_FUZZ_SEED"), CultureInfo.InvariantCulture, out var s) ? s : Random.Shared.Next();
        output.WriteLine($"SIDECARS_FUZZ_SEED={seed}");
        var random = new Random(seed);
        var schema = WireValidator.Schema.For(AttributeContext.Types.Peer.Descriptor);
        int vouched = 0, total = 4000;
        for (var i = 0; i < total; i++)
        {
            var peer = Peer(random, "10.0.0." + random.Next(256), (ulong)random.Next(65536));
            var bytes = i % 4 == 0 ? peer : FuzzInputs.Mutate(random, peer);
            if (WireValidator.IsParseable(bytes, schema))
            {
                vouched++;
                var parsed = AttributeContext.Types.Peer.Parser.ParseFrom(bytes);
                Assert.NotNull(parsed);
            }
        }

        output.WriteLine($"{vouched} of {total} vouched for");
        Assert.True(vouched >= total / 4, $"only {vouched} of {total} vouched for");
    }

    [Fact]
    public void A_kept_header_value_is_decoded_once_per_call()
    {
        var bytes = Message(Basics, Entry("authorization", "Bearer abc"));
        var call = EnvoyWire.ReadCheck(bytes);
        var view = CheckRequestView.Rent(call.Http!, call.Headers);
        var first = view.Header("authorization");
        Assert.Same(first, view.Header("authorization"));
        CheckRequestView.Return(view);

        // The next call on this thread reuses the view, not the value.
        var next = EnvoyWire.ReadCheck(Message(Basics, Entry("authorization", "Bearer xyz")));
        view = CheckRequestView.Rent(next.Http!, next.Headers);
        Assert.Equal("Bearer xyz", view.Header("authorization"));
        CheckRequestView.Return(view);
    }
}
