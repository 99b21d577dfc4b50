namespace Sidecars.Load.Generator.Http2;

/// <summary>
/// Decodes HPACK's Huffman-coded string literals (RFC 7541 §5.2, Appendix B). The code is canonical (within a length,
/// codes rise with the symbol; shorter lengths come first), so the table below holds only each symbol's code length
/// and the decoder derives the codes: per length, the first code and where its symbols start in the sorted list.
/// Bit by bit is slow but fine here: Kestrel sends none (its encoder writes raw literals), this is for other servers.
/// </summary>
internal static class HpackHuffman
{
    private const int Eos = 256;
    private const int MaxBits = 30;

    // Appendix B's "len" column for symbols 0..255 and EOS (256).
    private static ReadOnlySpan<byte> Lengths =>
    [
        13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
        28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
        6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
        5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
        13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
        7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
        15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
        6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
        20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
        24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
        22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
        21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
        26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
        19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
        20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
        26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
        30,
    ];

    private static readonly int[] FirstCode = new int[MaxBits + 2];
    private static readonly int[] CountOf = new int[MaxBits + 2];
    private static readonly int[] Offset = new int[MaxBits + 2];
    private static readonly short[] Sorted = BuildCanonical();

    /// <summary>Decodes <paramref name="encoded"/> into <paramref name="into"/>; returns the decoded length.</summary>
    /// <exception cref="H2ProtocolException">Bad padding, EOS inside the string, or <paramref name="into"/> too small.</exception>
    public static int Decode(ReadOnlySpan<byte> encoded, Span<byte> into)
    {
        var written = 0;
        var code = 0;
        var length = 0;
        var padOnes = true;
        foreach (var b in encoded)
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                var one = (b >> bit) & 1;
                code = (code << 1) | one;
                length++;
                padOnes &= one == 1;
                if (length > MaxBits)
                {
                    throw new H2ProtocolException("HPACK: a Huffman code longer than 30 bits");
                }

                var rank = code - FirstCode[length];
                if (rank < 0 || rank >= CountOf[length])
                {
                    continue;
                }

                var symbol = Sorted[Offset[length] + rank];
                if (symbol == Eos)
                {
                    throw new H2ProtocolException("HPACK: EOS inside a Huffman-coded string");
                }

                if (written == into.Length)
                {
                    throw new H2ProtocolException("HPACK: a Huffman-coded string longer than its buffer");
                }

                into[written++] = (byte)symbol;
                code = 0;
                length = 0;
                padOnes = true;
            }
        }

        // What is left must be a prefix of EOS (all ones) shorter than a byte (§5.2).
        if (length > 7 || !padOnes)
        {
            throw new H2ProtocolException("HPACK: bad padding at the end of a Huffman-coded string");
        }

        return written;
    }

    private static short[] BuildCanonical()
    {
        var lengths = Lengths;
        var sorted = new short[lengths.Length];
        var n = 0;
        var code = 0;
        for (var len = 1; len <= MaxBits; len++)
        {
            Offset[len] = n;
            FirstCode[len] = code;
            for (short symbol = 0; symbol < lengths.Length; symbol++)
            {
                if (lengths[symbol] == len)
                {
                    sorted[n++] = symbol;
                    CountOf[len]++;
                }
            }

            code = (code + CountOf[len]) << 1;
        }

        return sorted;
    }
}
