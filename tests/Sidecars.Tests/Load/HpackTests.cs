using Sidecars.Load.Generator.Http2;

namespace Sidecars.Tests.Load;

/// <summary>The raw transport's HPACK decoding (RFC 7541): Huffman strings, the dynamic table, integers.</summary>
public sealed class HpackTests
{
    [Theory]
    // RFC 7541 Appendix C.4's Huffman-coded literals.
    [InlineData("f1e3c2e5f23a6ba0ab90f4ff", "www.example.com")]
    [InlineData("a8eb10649cbf", "no-cache")]
    [InlineData("25a849e95ba97d7f", "custom-key")]
    [InlineData("25a849e95bb8e8b4bf", "custom-value")]
    public void Huffman_strings_of_the_rfc_decode(string hex, string text)
    {
        var into = new byte[64];
        var n = HpackHuffman.Decode(Convert.FromHexString(hex), into);
        Assert.Equal(text, System.Text.Encoding.ASCII.GetString(into, 0, n));
    }

    [Fact]
    public void Huffman_padding_that_is_not_ones_is_an_error() =>
        Assert.Throws<H2ProtocolException>(() => HpackHuffman.Decode([0xf1, 0xe0], new byte[8]));

    [Fact]
    public void An_indexed_entry_of_an_earlier_block_is_read_from_the_dynamic_table()
    {
        var decoder = new HpackDecoder();

        // :status 200 (static 8); grpc-status "0" and grpc-message "no-cache" (Huffman-coded), both literals
        // with incremental indexing and new names.
        List<byte> first = [0x88, 0x40, 11, .. "grpc-status"u8, 1, (byte)'0'];
        first.AddRange([0x40, 12, .. "grpc-message"u8, 0x80 | 6, 0xa8, 0xeb, 0x10, 0x64, 0x9c, 0xbf]);
        var headers = ResponseHeaders.Empty;
        decoder.Decode(first.ToArray(), ref headers);
        Assert.Equal((200, 0, "no-cache"), (headers.Status, headers.GrpcStatus, headers.GrpcMessage));

        // The newest entry is 62 (grpc-message), the one before 63 (grpc-status).
        var second = ResponseHeaders.Empty;
        decoder.Decode([0x80 | 63, 0x80 | 62], ref second);
        Assert.Equal((0, "no-cache"), (second.GrpcStatus, second.GrpcMessage));

        // A size update to 0 empties the table: 62 is gone.
        var third = ResponseHeaders.Empty;
        Assert.Throws<H2ProtocolException>(() => decoder.Decode([0x20, 0x80 | 62], ref third));
    }

    [Fact]
    public void A_percent_encoded_grpc_message_is_decoded_and_a_multi_byte_integer_read()
    {
        var decoder = new HpackDecoder();
        var message = "bad%20token%3A x"u8.ToArray();
        // Literals without indexing, new names.
        List<byte> block = [0x00, 12, .. "grpc-message"u8, (byte)message.Length, .. message];
        block.AddRange([0x00, 11, .. "grpc-status"u8, 2, (byte)'1', (byte)'6']);
        var headers = ResponseHeaders.Empty;
        decoder.Decode(block.ToArray(), ref headers);
        Assert.Equal((16, "bad token: x"), (headers.GrpcStatus, headers.GrpcMessage));

        var at = 0;
        Assert.Equal(1337, HpackDecoder.ReadInteger([0x1F, 0x9A, 0x0A], ref at, 5)); // RFC 7541 C.1.2
        Assert.Equal(3, at);
    }
}
