using System.Buffers;
using System.Text;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Sidecars.Envoy.Wire;
using static Sidecars.Tests.Server.WireConfig;

namespace Sidecars.Tests.Envoy;

/// <summary>The byte-to-text mapping behind the lenient marshaller: injective, identity on ordinary text, no lone surrogates.</summary>
public sealed class LenientUtf8Tests
{
    // Bytes that make every kind of sequence: ASCII, hex digits, U+FFFD's bytes, lead and continuation bytes, surrogates.
    private static readonly byte[] Alphabet = [0x41, 0x46, 0xEF, 0xBF, 0xBD, 0xFF, 0xC3, 0xA9, 0xED, 0xA0, 0x80];

    private static IEnumerable<byte[]> AllStrings(int maxLength)
    {
        IEnumerable<byte[]> level = [[]];
        for (var length = 0; length <= maxLength; length++)
        {
            foreach (var s in level)
            {
                yield return s;
            }

            level = level.SelectMany(s => Alphabet.Select(b => (byte[])[.. s, b])).ToList();
        }
    }

    [Fact]
    public void Different_bytes_never_map_to_the_same_text_and_never_to_a_lone_surrogate()
    {
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var strict = new UTF8Encoding(false, throwOnInvalidBytes: true);
        foreach (var bytes in AllStrings(4))
        {
            var text = LenientUtf8.Decode(bytes);
            Assert.True(seen.TryAdd(text, Convert.ToHexString(bytes)), $"{Convert.ToHexString(bytes)} and {(seen.TryGetValue(text, out var other) ? other : "?")} both map to '{text}'");
            strict.GetBytes(text); // throws on a lone surrogate
            Assert.Equal(LenientUtf8.EscapedLength(bytes), strict.GetByteCount(text));
        }

        Assert.Equal(16105, seen.Count); // 1 + 11 + 11^2 + 11^3 + 11^4
    }

    [Theory]
    [InlineData("plain ascii")]
    [InlineData("caf\u00e9 \u4e2d\u6587 \U0001F600")]
    [InlineData("")]
    public void Valid_text_without_U_FFFD_is_left_as_it_is(string text) =>
        Assert.Equal(text, LenientUtf8.Decode(Encoding.UTF8.GetBytes(text)));

    [Fact]
    public void Invalid_bytes_read_as_U_FFFD_and_hex_and_U_FFFD_itself_doubles()
    {
        Assert.Equal("a\uFFFDFFb", LenientUtf8.Decode([0x61, 0xFF, 0x62]));
        Assert.Equal("\uFFFDED\uFFFDA0\uFFFD80", LenientUtf8.Decode([0xED, 0xA0, 0x80]));
        Assert.Equal("\uFFFD\uFFFD", LenientUtf8.Decode([0xEF, 0xBF, 0xBD]));
    }

    [Fact]
    public void U_FFFD_bytes_are_found_across_every_segment_split()
    {
        byte[] data = [0x01, 0x02, 0xEF, 0xBF, 0xBD, 0x03];
        for (var first = 0; first <= data.Length; first++)
        {
            for (var second = first; second <= data.Length; second++)
            {
                var sequence = Segments(data[..first], data[first..second], data[second..]);
                Assert.True(LenientUtf8.ContainsEscape(sequence), $"split at {first}, {second}");
            }
        }

        Assert.False(LenientUtf8.ContainsEscape(Segments([0xEF], [0xBF], [0xBE], [0xBD])));
    }

    [Fact]
    public void A_message_with_invalid_utf8_in_nested_map_keys_and_values_parses_with_them_escaped()
    {
        byte[] bad = [0x78, 0xFF];
        var bytes = CheckRequest(Utf8("GET"), bad, Utf8("/p"), (bad, bad), (Utf8("k"), Utf8("v")));
        bytes = [.. bytes, .. Field(999, bad), 0x9B, 0x3E, 0x08, 0x01, 0x9C, 0x3E]; // an unknown field and an unknown group 999

        var request = EnvoyWire.ReadCheckRequest(bytes);

        var http = request.Attributes.Request.Http;
        Assert.Equal("x\uFFFDFF", http.Host);
        Assert.Equal("x\uFFFDFF", http.Headers["x\uFFFDFF"]);
        Assert.Equal("v", http.Headers["k"]);
        Assert.Equal("/p", http.Path);
    }

    [Fact]
    public void A_message_nested_past_the_recursion_limit_is_unreadable_not_an_exception()
    {
        byte[] value = Field(3, [0xFF]);
        for (var i = 0; i < 200; i++)
        {
            value = Field(5, Field(1, Field(1, Utf8("k")), Field(2, value)));
        }

        byte[] bytes = Field(1, Field(11, Field(1, Field(1, Utf8("f")), Field(2, Field(1, Field(1, Utf8("r")), Field(2, value))))));

        Assert.Same(EnvoyWire.UnreadableCheckRequest, EnvoyWire.ReadCheckRequest(bytes));
        Assert.Same(EnvoyWire.UnreadableCheckRequest, EnvoyWire.ReadCheckRequest(new byte[] { 0xFF }));
        Assert.NotSame(EnvoyWire.UnreadableCheckRequest, EnvoyWire.ReadCheckRequest(new CheckRequest().ToByteArray()));
    }

    private static ReadOnlySequence<byte> Segments(params byte[][] parts)
    {
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
