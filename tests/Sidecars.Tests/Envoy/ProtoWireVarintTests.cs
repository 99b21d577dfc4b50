using Google.Protobuf;
using Sidecars.Envoy.Wire;
using Xunit;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// The varint every request reader is built on must read exactly what Google.Protobuf reads, on its one-byte fast
/// path and past it: the same value, the same bytes consumed, and a refusal where the parser throws.
/// </summary>
public sealed class ProtoWireVarintTests
{
    [Theory]
    [InlineData(new byte[] { 0x00 })]
    [InlineData(new byte[] { 0x7F })]
    [InlineData(new byte[] { 0x80, 0x01 })]
    [InlineData(new byte[] { 0xFF, 0x7F })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })]
    [InlineData(new byte[] { 0x80 })]
    [InlineData(new byte[] { })]
    public void Reads_as_the_generated_parser_does(byte[] bytes) => AssertAgrees(bytes, 0);

    [Fact]
    public void Agrees_with_the_generated_parser_on_random_bytes_at_every_offset()
    {
        var random = new Random(20261208);
        var buffer = new byte[16];
        for (var round = 0; round < 20_000; round++)
        {
            random.NextBytes(buffer);
            // Mostly short varints, as on the wire, and some long and unterminated ones.
            var length = random.Next(0, buffer.Length + 1);
            for (var i = 0; i < length; i++)
            {
                if (random.Next(4) != 0)
                {
                    buffer[i] &= 0x7F;
                }
            }

            AssertAgrees(buffer.AsSpan(0, length).ToArray(), random.Next(0, length + 1));
        }
    }

    private static void AssertAgrees(byte[] bytes, int start)
    {
        var at = start;
        var ours = ProtoWire.TryReadVarint(bytes, ref at, out var value);

        ulong expected = 0;
        var consumed = -1;
        var theirs = true;
        try
        {
            var input = new CodedInputStream(bytes[start..]);
            expected = input.ReadUInt64();
            consumed = (int)input.Position;
        }
        catch (InvalidProtocolBufferException)
        {
            theirs = false;
        }

        Assert.Equal(theirs, ours);
        if (ours)
        {
            Assert.Equal(expected, value);
            Assert.Equal(start + consumed, at);
        }
    }
}
