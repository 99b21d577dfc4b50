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
        var actual = call.Request.Clone();
        if (call.Headers is { } headers)
        {
            Assert.Empty(call.Request.Attributes.Request.Http.Headers);
            var http = actual.Attributes.Request.Http;
            for (var i = 0; i < headers.Count; i++)
            {
                http.Headers[headers.Key(i)] = headers.Value(i);
            }
        }

        if (!expected.Equals(actual))
        {
            Assert.Fail($"{because}: read {Convert.ToHexString(actual.ToByteArray())} where the lenient marshaller read {Convert.ToHexString(expected.ToByteArray())}");
        }

        // And through the view the core reads: every header name, and one nobody sent.
        var expectedHttp = expected.Attributes?.Request?.Http;
        if (expectedHttp is not null)
        {
            var viewOld = CheckRequestView.Rent(expectedHttp);
            var names = expectedHttp.Headers.Keys.Append("not-sent").ToList();
            var values = names.Select(viewOld.Header).ToList();
            CheckRequestView.Return(viewOld);
            var viewNew = CheckRequestView.Rent(call.Request.Attributes.Request.Http, call.Headers);
            for (var i = 0; i < names.Count; i++)
            {
                Assert.Equal(values[i], viewNew.Header(names[i]));
                Assert.Equal(values[i], viewNew.Header(names[i]));
            }

            CheckRequestView.Return(viewNew);
        }

        return call.Headers is not null;
    }

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
        output.WriteLine($"{edge}: headers kept as bytes: {AssertSameReading(bytes, edge)}");
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

        output.WriteLine($"{fast} of {total} read with their headers kept as bytes");
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

        List<byte[]> attributes = [Field(4, [.. (random.Next(4) == 0 ? Field(1, [8, 1]) : []), .. Field(2, [.. http.SelectMany(b => b)])])];
        if (random.Next(3) == 0)
        {
            attributes.Insert(random.Next(2), Field(1, Field(2, Utf8("svc"))));
        }

        if (random.Next(4) == 0)
        {
            attributes.Add(Field(10, Field(1, Utf8("ext")), Field(2, Utf8("v"))));
        }

        byte[] message = Field(1, [.. attributes.SelectMany(b => b)]);
        return random.Next(5) == 0 ? [.. message, .. Field(random.Next(2, 1000), Utf8("tail"))] : message;
    }

    [Fact]
    public void A_kept_header_value_is_decoded_once_per_call()
    {
        var bytes = Message(Basics, Entry("authorization", "Bearer abc"));
        var call = EnvoyWire.ReadCheck(bytes);
        var view = CheckRequestView.Rent(call.Request.Attributes.Request.Http, call.Headers);
        var first = view.Header("authorization");
        Assert.Same(first, view.Header("authorization"));
        CheckRequestView.Return(view);

        // The next call on this thread reuses the view, not the value.
        var next = EnvoyWire.ReadCheck(Message(Basics, Entry("authorization", "Bearer xyz")));
        view = CheckRequestView.Rent(next.Request.Attributes.Request.Http, next.Headers);
        Assert.Equal("Bearer xyz", view.Header("authorization"));
        CheckRequestView.Return(view);
    }
}
