namespace Sidecars.Envoy.Wire;

/// <summary>
/// The protobuf wire format's primitives exactly as Google.Protobuf's generated parser reads them, for the readers
/// that take a message straight off the wire (<see cref="CheckRequestReader"/>, <see cref="RateLimitRequestReader"/>,
/// <see cref="WireValidator"/>): any difference would let a reader accept what the parser refuses, or the reverse.
/// </summary>
internal static class ProtoWire
{
    public const int Varint = 0;
    public const int LengthDelimited = 2;

    /// <summary>Skips a field's value as the generated parser does; groups (long deprecated) are left to it.</summary>
    public static bool TrySkip(ReadOnlySpan<byte> message, ref int at, int wireType)
    {
        switch (wireType)
        {
            case 0:
                return TryReadVarint(message, ref at, out _);
            case 1:
                at += 8;
                return at <= message.Length;
            case LengthDelimited:
                if (!TryReadLength(message, ref at, out var length))
                {
                    return false;
                }

                at += length;
                return true;
            case 5:
                at += 4;
                return at <= message.Length;
            default:
                return false;
        }
    }

    /// <summary>A tag as the generated parser reads it: a varint cut to 32 bits, field number 0 refused.</summary>
    public static bool TryReadTag(ReadOnlySpan<byte> message, ref int at, out uint tag)
    {
        tag = 0;
        if (!TryReadVarint(message, ref at, out var value))
        {
            return false;
        }

        tag = (uint)value;
        return tag >> 3 != 0;
    }

    /// <summary>A length prefix that fits what is left of the message.</summary>
    public static bool TryReadLength(ReadOnlySpan<byte> message, ref int at, out int length)
    {
        length = 0;
        if (!TryReadVarint(message, ref at, out var value) || value > (ulong)(message.Length - at))
        {
            return false;
        }

        length = (int)value;
        return true;
    }

    /// <summary>A varint of at most 10 bytes (the generated parser's bound).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public static bool TryReadVarint(ReadOnlySpan<byte> message, ref int at, out ulong value)
    {
        // Nearly every tag and length of an ext_authz request is one byte: read inline, the loop only past it.
        // Every reader of the request goes through here, ~300 ns of a Check under h2load before this (perf).
        if ((uint)at < (uint)message.Length && message[at] < 0x80)
        {
            value = message[at++];
            return true;
        }

        return TryReadLongVarint(message, ref at, out value);
    }

    private static bool TryReadLongVarint(ReadOnlySpan<byte> message, ref int at, out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 70 && at < message.Length; shift += 7)
        {
            var b = message[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return true;
            }
        }

        return false;
    }
}
