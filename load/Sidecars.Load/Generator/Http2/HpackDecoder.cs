using System.Buffers.Text;

namespace Sidecars.Load.Generator.Http2;

/// <summary>What a response's header block says, as far as a unary gRPC call cares.</summary>
internal struct ResponseHeaders
{
    public int Status;
    public int GrpcStatus;
    public string? GrpcMessage;

    public static ResponseHeaders Empty => new() { Status = -1, GrpcStatus = -1 };
}

/// <summary>
/// An HPACK decoder (RFC 7541) for one connection's responses: static and dynamic table, size updates, every literal
/// form, Huffman strings. Every header block the server sends must go through it in order, even for a stream we no
/// longer track, or the dynamic table drifts out of step with the server's. Steady state allocates nothing: a server
/// indexes its repeated headers once, and only grpc-message becomes a string.
/// </summary>
internal sealed class HpackDecoder
{
    /// <summary>Our SETTINGS_HEADER_TABLE_SIZE: never changed from the default, so the server may use up to 4,096.</summary>
    public const int MaxTableSize = 4_096;

    private const int EntryOverhead = 32;

    // A ring of entries, newest at _newest; 4,096 / 32 bounds how many fit.
    private readonly (byte[] Name, byte[] Value)[] _ring = new (byte[], byte[])[MaxTableSize / EntryOverhead];
    private int _newest = -1;
    private int _count;
    private int _size;
    private int _maxSize = MaxTableSize;
    private readonly byte[] _nameScratch = new byte[256];
    private byte[] _valueScratch = new byte[1024];

    /// <summary>Decodes one whole header block (HEADERS plus its CONTINUATIONs).</summary>
    /// <exception cref="H2ProtocolException">A malformed block (a COMPRESSION_ERROR: the connection is done).</exception>
    public void Decode(ReadOnlySpan<byte> block, ref ResponseHeaders headers)
    {
        var at = 0;
        while (at < block.Length)
        {
            var first = block[at];
            if ((first & 0x80) != 0)
            {
                var index = ReadInteger(block, ref at, 7);
                var (name, value) = Lookup(index);
                Take(name, value, ref headers);
            }
            else if ((first & 0xE0) == 0x20)
            {
                var size = ReadInteger(block, ref at, 5);
                if (size > MaxTableSize)
                {
                    throw new H2ProtocolException($"HPACK: table size update to {size}, above our {MaxTableSize}");
                }

                _maxSize = size;
                Evict(0);
            }
            else
            {
                // 01: with incremental indexing (6-bit index); 0000 / 0001: without / never indexed (4-bit index).
                var indexing = (first & 0xC0) == 0x40;
                var index = ReadInteger(block, ref at, indexing ? 6 : 4);
                var name = index == 0 ? ReadString(block, ref at, _nameScratch) : Lookup(index).Name;
                var value = ReadString(block, ref at, ValueScratch(block, at));
                Take(name, value, ref headers);
                if (indexing)
                {
                    Insert(name.ToArray(), value.ToArray());
                }
            }
        }
    }

    private static void Take(ReadOnlySpan<byte> name, ReadOnlySpan<byte> value, ref ResponseHeaders headers)
    {
        if (name.SequenceEqual(":status"u8))
        {
            headers.Status = Utf8Parser.TryParse(value, out int status, out var used) && used == value.Length ? status : 0;
        }
        else if (name.SequenceEqual("grpc-status"u8))
        {
            // Not a number is not OK: Unknown, as gRPC's own clients read it.
            headers.GrpcStatus = Utf8Parser.TryParse(value, out int code, out var used) && used == value.Length && code >= 0 ? code : 2;
        }
        else if (name.SequenceEqual("grpc-message"u8))
        {
            headers.GrpcMessage = PercentDecode(value);
        }
    }

    /// <summary>grpc-message is percent-encoded UTF-8 (gRPC over HTTP/2, "Responses").</summary>
    private static string PercentDecode(ReadOnlySpan<byte> value)
    {
        Span<byte> decoded = value.Length <= 512 ? stackalloc byte[value.Length] : new byte[value.Length];
        var n = 0;
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length && Hex(value[i + 1]) is >= 0 and var hi && Hex(value[i + 2]) is >= 0 and var lo)
            {
                decoded[n++] = (byte)((hi << 4) | lo);
                i += 2;
            }
            else
            {
                decoded[n++] = value[i];
            }
        }

        return System.Text.Encoding.UTF8.GetString(decoded[..n]);

        static int Hex(byte c) => c switch
        {
            >= (byte)'0' and <= (byte)'9' => c - '0',
            >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
            >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
            _ => -1,
        };
    }

    private (byte[] Name, byte[] Value) Lookup(int index)
    {
        if (index >= 1 && index <= HpackStaticTable.Count)
        {
            return HpackStaticTable.Get(index);
        }

        var dynamic = index - HpackStaticTable.Count - 1;
        if (index < 1 || dynamic >= _count)
        {
            throw new H2ProtocolException($"HPACK: index {index} is outside the tables ({HpackStaticTable.Count} static, {_count} dynamic)");
        }

        return _ring[(_newest - dynamic + _ring.Length) % _ring.Length];
    }

    private void Insert(byte[] name, byte[] value)
    {
        var size = name.Length + value.Length + EntryOverhead;
        Evict(size);
        if (size > _maxSize)
        {
            // An entry larger than the table empties it and is not added (RFC 7541 §4.4).
            return;
        }

        _newest = (_newest + 1) % _ring.Length;
        _ring[_newest] = (name, value);
        _count++;
        _size += size;
    }

    /// <summary>Drops the oldest entries until <paramref name="room"/> more fits within the table's size.</summary>
    private void Evict(int room)
    {
        while (_count > 0 && _size + room > _maxSize)
        {
            var oldest = (_newest - _count + 1 + _ring.Length) % _ring.Length;
            _size -= _ring[oldest].Name.Length + _ring[oldest].Value.Length + EntryOverhead;
            _ring[oldest] = default;
            _count--;
        }
    }

    // A Huffman string decodes to at most 8/5 of its length; make sure the scratch can hold the next one.
    private byte[] ValueScratch(ReadOnlySpan<byte> block, int at)
    {
        var room = Math.Max(block.Length - at, 0) * 8 / 5 + 8;
        if (_valueScratch.Length < room)
        {
            _valueScratch = new byte[Math.Max(room, _valueScratch.Length * 2)];
        }

        return _valueScratch;
    }

    /// <summary>A string literal (§5.2): raw bytes sliced from the block, or Huffman-decoded into <paramref name="scratch"/>.</summary>
    private static ReadOnlySpan<byte> ReadString(ReadOnlySpan<byte> block, ref int at, byte[] scratch)
    {
        if (at >= block.Length)
        {
            throw new H2ProtocolException("HPACK: a header block ends inside a header field");
        }

        var huffman = (block[at] & 0x80) != 0;
        var length = ReadInteger(block, ref at, 7);
        if (length > block.Length - at)
        {
            throw new H2ProtocolException("HPACK: a string literal runs past the end of the header block");
        }

        var raw = block.Slice(at, length);
        at += length;
        if (!huffman)
        {
            return raw;
        }

        if (raw.Length * 8 / 5 + 1 > scratch.Length)
        {
            throw new H2ProtocolException($"HPACK: a {raw.Length}-byte Huffman-coded name, longer than this client reads");
        }

        return scratch.AsSpan(0, HpackHuffman.Decode(raw, scratch));
    }

    /// <summary>An integer with an N-bit prefix (§5.1); bounded so a hostile block cannot overflow it.</summary>
    internal static int ReadInteger(ReadOnlySpan<byte> block, ref int at, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[at++] & max;
        if (value < max)
        {
            return value;
        }

        for (var shift = 0; shift <= 21; shift += 7)
        {
            if (at >= block.Length)
            {
                throw new H2ProtocolException("HPACK: a header block ends inside an integer");
            }

            var b = block[at++];
            value += (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }

        throw new H2ProtocolException("HPACK: an integer longer than 4 continuation bytes");
    }
}
