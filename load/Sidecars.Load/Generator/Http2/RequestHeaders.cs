using System.Text;

namespace Sidecars.Load.Generator.Http2;

/// <summary>
/// The HEADERS block of a gRPC request, encoded once per (authority, path) and reused for every call: static-table
/// indexes and literals without indexing, no Huffman (RFC 7541 §6.1, §6.2.2), so the server's decoder keeps no state
/// for us and the bytes never change.
/// </summary>
internal static class RequestHeaders
{
    public static byte[] Encode(string authority, string path)
    {
        var block = new List<byte>(64 + authority.Length + path.Length)
        {
            (byte)(0x80 | HpackStaticTable.MethodPost),
            (byte)(0x80 | HpackStaticTable.SchemeHttp),
        };
        Literal(block, HpackStaticTable.Path, path);
        Literal(block, HpackStaticTable.Authority, authority);
        Literal(block, HpackStaticTable.ContentType, "application/grpc");
        block.Add(0x00);
        String(block, "te");
        String(block, "trailers");
        return [.. block];
    }

    /// <summary>Literal without indexing, name from the static table: 0000 and a 4-bit-prefix index.</summary>
    private static void Literal(List<byte> block, int nameIndex, string value)
    {
        Integer(block, nameIndex, 4, 0x00);
        String(block, value);
    }

    private static void String(List<byte> block, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        Integer(block, bytes.Length, 7, 0x00);
        block.AddRange(bytes);
    }

    internal static void Integer(List<byte> block, int value, int prefixBits, byte pattern)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(pattern | value));
            return;
        }

        block.Add((byte)(pattern | max));
        value -= max;
        while (value >= 0x80)
        {
            block.Add((byte)((value & 0x7F) | 0x80));
            value >>= 7;
        }

        block.Add((byte)value);
    }
}
