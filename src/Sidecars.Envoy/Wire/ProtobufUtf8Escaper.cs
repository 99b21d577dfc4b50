using System.Buffers;
using Google.Protobuf.Reflection;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Rewrites a serialized protobuf message so that every <c>string</c> field the schema knows holds the
/// <see cref="LenientUtf8"/> escaped form of its bytes; everything else (numbers, <c>bytes</c>, unknown fields)
/// is copied as it came. Google.Protobuf refuses a message whose string is not UTF-8, the rewritten one parses.
/// </summary>
/// <remarks>
/// Only the slow path of <see cref="LenientMarshaller"/> runs this (a message that failed to parse or holds
/// U+FFFD). It walks the wire format with the schema's descriptors, the same way for every message type, so a
/// field added to the protos is covered without code here. Nesting is bounded like Google.Protobuf's own parser.
/// </remarks>
internal static class ProtobufUtf8Escaper
{
    // Google.Protobuf's default recursion limit: a message it would refuse for depth is refused here too.
    private const int MaxDepth = 100;

    private const int WireVarint = 0;
    private const int WireFixed64 = 1;
    private const int WireLengthDelimited = 2;
    private const int WireStartGroup = 3;
    private const int WireEndGroup = 4;
    private const int WireFixed32 = 5;

    /// <summary>Writes the rewritten message; false when the bytes are not a well-formed protobuf message.</summary>
    public static bool TryRewrite(ReadOnlySpan<byte> message, MessageDescriptor descriptor, ArrayBufferWriter<byte> output) =>
        Rewrite(message, descriptor, output, depth: 0);

    private static bool Rewrite(ReadOnlySpan<byte> input, MessageDescriptor? descriptor, ArrayBufferWriter<byte> output, int depth)
    {
        if (depth > MaxDepth)
        {
            return false;
        }

        var position = 0;
        while (position < input.Length)
        {
            var fieldStart = position;
            if (!TryReadVarint(input, ref position, out var tag) || !TryField(tag, out var number, out var wireType))
            {
                return false;
            }

            var tagBytes = input[fieldStart..position];
            if (wireType == WireLengthDelimited)
            {
                if (!TryReadVarint(input, ref position, out var length) || length > (ulong)(input.Length - position))
                {
                    return false;
                }

                var content = input.Slice(position, (int)length);
                position += (int)length;
                var field = descriptor?.FindFieldByNumber(number);
                if (field?.FieldType == FieldType.String && LenientUtf8.NeedsEscaping(content))
                {
                    output.Write(tagBytes);
                    WriteVarint(output, (ulong)LenientUtf8.EscapedLength(content));
                    LenientUtf8.WriteEscaped(content, output);
                    continue;
                }

                if (field?.FieldType == FieldType.Message)
                {
                    // A map is a repeated message of its entry type, so map keys and values are covered here.
                    var inner = new ArrayBufferWriter<byte>(Math.Max(content.Length, 16)); // an empty sub-message is legal; the capacity must be positive
                    if (!Rewrite(content, field.MessageType, inner, depth + 1))
                    {
                        return false;
                    }

                    output.Write(tagBytes);
                    WriteVarint(output, (ulong)inner.WrittenCount);
                    output.Write(inner.WrittenSpan);
                    continue;
                }
            }
            else if (!TrySkip(input, ref position, wireType, number, depth))
            {
                return false;
            }

            output.Write(input[fieldStart..position]);
        }

        return true;
    }

    /// <summary>Skips a field value that is not length-delimited; groups (legal on the wire, unknown to proto3) whole.</summary>
    private static bool TrySkip(ReadOnlySpan<byte> input, ref int position, int wireType, int number, int depth)
    {
        switch (wireType)
        {
            case WireVarint:
                return TryReadVarint(input, ref position, out _);
            case WireFixed64:
                return Advance(input, ref position, 8);
            case WireFixed32:
                return Advance(input, ref position, 4);
            case WireStartGroup:
                if (depth >= MaxDepth)
                {
                    return false;
                }

                while (true)
                {
                    if (!TryReadVarint(input, ref position, out var tag) || !TryField(tag, out var innerNumber, out var innerType))
                    {
                        return false;
                    }

                    if (innerType == WireEndGroup)
                    {
                        return innerNumber == number;
                    }

                    if (innerType == WireLengthDelimited)
                    {
                        if (!TryReadVarint(input, ref position, out var length) || !Advance(input, ref position, length))
                        {
                            return false;
                        }
                    }
                    else if (!TrySkip(input, ref position, innerType, innerNumber, depth + 1))
                    {
                        return false;
                    }
                }

            default:
                // An end-group without its start, or wire types 6 and 7.
                return false;
        }
    }

    private static bool TryField(ulong tag, out int number, out int wireType)
    {
        wireType = (int)(tag & 7);
        var value = tag >> 3;
        number = (int)Math.Min(value, int.MaxValue);
        return value is > 0 and <= 536_870_911; // 2^29 - 1, the largest field number
    }

    private static bool Advance(ReadOnlySpan<byte> input, ref int position, ulong count)
    {
        if (count > (ulong)(input.Length - position))
        {
            return false;
        }

        position += (int)count;
        return true;
    }

    private static bool TryReadVarint(ReadOnlySpan<byte> input, ref int position, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (position >= input.Length)
            {
                return false;
            }

            var b = input[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }

    private static void WriteVarint(ArrayBufferWriter<byte> output, ulong value)
    {
        var span = output.GetSpan(10);
        var i = 0;
        while (value >= 0x80)
        {
            span[i++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[i++] = (byte)value;
        output.Advance(i);
    }
}
