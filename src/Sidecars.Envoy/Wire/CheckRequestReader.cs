using System.Buffers;
using System.Text.Unicode;
using Envoy.Service.Auth.V3;
using Sidecars.Envoy.Authorization;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Reads a CheckRequest with its <c>attributes.request.http.headers</c> map kept as bytes (<see cref="CheckHeaders"/>)
/// instead of a <c>MapField</c> of strings: the generated parser spent a fifth of the server's CPU under load on the
/// 13 header entries Envoy sends (two strings, a dictionary slot and a linked-list node each, 5.9 KB a call), while a
/// decision reads two or three of them.
/// </summary>
/// <remarks>
/// Exactness first: this reader only takes the message apart where it can prove the generated parser would read it
/// the same way, and hands everything else to that parser. It walks the three enclosing messages; each must occur
/// exactly once, every header entry must hold only its key (1) and value (2), both valid UTF-8. The message is then
/// parsed by the generated parser with the header entries cut out (the enclosing lengths re-encoded), so every other
/// field, unknown fields and malformed bytes included, is read (or refused) exactly as before. Anything else, and any
/// message that might hold an escaped byte, takes <see cref="LenientMarshaller"/>'s path unchanged.
/// </remarks>
public static class CheckRequestReader
{
    private const int LengthDelimited = 2;

    // Header entries a request may carry before this reader leaves it to the generated parser (Kestrel's own limit is 100).
    private const int MaxEntries = 256;

    /// <summary>The call as the server reads it: the fast reading, else the lenient marshaller's.</summary>
    public static CheckCall Read(in ReadOnlySequence<byte> payload)
    {
        if (payload.Length <= int.MaxValue && !LenientUtf8.ContainsEscape(payload))
        {
            if (payload.IsSingleSegment)
            {
                if (TryRead(payload.FirstSpan) is { } call)
                {
                    return call;
                }
            }
            else
            {
                var copy = ArrayPool<byte>.Shared.Rent((int)payload.Length);
                try
                {
                    payload.CopyTo(copy);
                    if (TryRead(copy.AsSpan(0, (int)payload.Length)) is { } call)
                    {
                        return call;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(copy);
                }
            }
        }

        var request = LenientMarshaller.Read(payload, CheckRequest.Parser, CheckRequest.Descriptor, EnvoyWire.UnreadableCheckRequest);
        return ReferenceEquals(request, EnvoyWire.UnreadableCheckRequest) ? CheckCall.Unreadable : new CheckCall(request, headers: null);
    }

    /// <summary>The fast reading, or null where the generated parser must read the message itself.</summary>
    internal static CheckCall? TryRead(ReadOnlySpan<byte> message)
    {
        if (!TryFindOnly(message, CheckRequest.AttributesFieldNumber, out var attributes)
            || !TryFindOnly(message.Slice(attributes.Content, attributes.Length), AttributeContext.RequestFieldNumber, out var request)
            || !TryFindOnly(message.Slice(attributes.Content + request.Content, request.Length), AttributeContext.Types.Request.HttpFieldNumber, out var http))
        {
            return null;
        }

        var httpStart = attributes.Content + request.Content + http.Content;
        var httpContent = message.Slice(httpStart, http.Length);
        Span<int> entryBounds = stackalloc int[64];
        int[]? rented = null;
        try
        {
            if (!TryFindEntries(httpContent, ref entryBounds, ref rented, out var entries, out var removed))
            {
                return null;
            }

            if (entries == 0)
            {
                return Parse(message, headers: null);
            }

            var headers = CheckHeaders.From(httpContent, entryBounds[..(entries * 2)]);
            if (headers is null)
            {
                return null;
            }

            // The same message without its header entries: only the three enclosing lengths change.
            // A length may have come padded (a varint longer than it needs): what it took, not what it needs, is removed.
            var newHttp = http.Length - removed;
            var newRequest = request.Length - (http.Length - newHttp) - (http.PrefixSize - VarintSize(newHttp));
            var newAttributes = attributes.Length - (request.Length - newRequest) - (request.PrefixSize - VarintSize(newRequest));
            var total = message.Length - (attributes.Length - newAttributes) - (attributes.PrefixSize - VarintSize(newAttributes));
            var buffer = ArrayPool<byte>.Shared.Rent(total);
            try
            {
                var written = 0;
                Copy(message[..attributes.LengthAt], buffer, ref written);
                WriteVarint((uint)newAttributes, buffer, ref written);
                Copy(message[attributes.Content..(attributes.Content + request.LengthAt)], buffer, ref written);
                WriteVarint((uint)newRequest, buffer, ref written);
                Copy(message[(attributes.Content + request.Content)..(attributes.Content + request.Content + http.LengthAt)], buffer, ref written);
                WriteVarint((uint)newHttp, buffer, ref written);
                var from = 0;
                for (var i = 0; i < entries; i++)
                {
                    Copy(httpContent[from..entryBounds[i * 2]], buffer, ref written);
                    from = entryBounds[(i * 2) + 1];
                }

                Copy(httpContent[from..], buffer, ref written);
                Copy(message[(httpStart + http.Length)..], buffer, ref written);
                return written == total ? Parse(buffer.AsSpan(0, total), headers) : null;
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    private static CheckCall? Parse(ReadOnlySpan<byte> message, CheckHeaders? headers)
    {
        try
        {
            return new CheckCall(CheckRequest.Parser.ParseFrom(message), headers);
        }
#pragma warning disable CA1031 // Not readable by the generated parser: the lenient path decides what it is, as before.
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    /// <summary>Where a length-delimited field sits: its length prefix, its content, its length (offsets within the parent).</summary>
    private readonly record struct Field(int LengthAt, int Content, int Length)
    {
        /// <summary>The bytes its length prefix took.</summary>
        public int PrefixSize => Content - LengthAt;
    }

    /// <summary>The one occurrence of <paramref name="number"/>, length-delimited; false if absent, repeated, or the walk fails.</summary>
    private static bool TryFindOnly(ReadOnlySpan<byte> message, int number, out Field found)
    {
        found = default;
        var seen = false;
        var at = 0;
        while (at < message.Length)
        {
            if (!TryReadTag(message, ref at, out var tag))
            {
                return false;
            }

            if ((int)(tag >> 3) == number)
            {
                var lengthAt = at;
                if (seen || (tag & 7) != LengthDelimited || !TryReadLength(message, ref at, out var length))
                {
                    return false;
                }

                seen = true;
                found = new Field(lengthAt, at, length);
                at += length;
            }
            else if (!TrySkip(message, ref at, (int)(tag & 7)))
            {
                return false;
            }
        }

        return seen;
    }

    /// <summary>The header entries (field 3) of an HttpRequest: each one's [start, end) in <paramref name="bounds"/>, and their bytes in all.</summary>
    private static bool TryFindEntries(ReadOnlySpan<byte> http, ref Span<int> bounds, ref int[]? rented, out int entries, out int removed)
    {
        entries = 0;
        removed = 0;
        var at = 0;
        while (at < http.Length)
        {
            var start = at;
            if (!TryReadTag(http, ref at, out var tag))
            {
                return false;
            }

            if ((int)(tag >> 3) != AttributeContext.Types.HttpRequest.HeadersFieldNumber)
            {
                if (!TrySkip(http, ref at, (int)(tag & 7)))
                {
                    return false;
                }

                continue;
            }

            if ((tag & 7) != LengthDelimited || !TryReadLength(http, ref at, out var length) || entries == MaxEntries)
            {
                return false;
            }

            at += length;
            if ((entries * 2) + 2 > bounds.Length)
            {
                var larger = ArrayPool<int>.Shared.Rent(bounds.Length * 2);
                bounds.CopyTo(larger);
                if (rented is not null)
                {
                    ArrayPool<int>.Shared.Return(rented);
                }

                rented = larger;
                bounds = larger;
            }

            bounds[entries * 2] = start;
            bounds[(entries * 2) + 1] = at;
            entries++;
            removed += at - start;
        }

        return true;
    }

    /// <summary>Skips a field's value as the generated parser does; groups (long deprecated) are left to it.</summary>
    private static bool TrySkip(ReadOnlySpan<byte> message, ref int at, int wireType)
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
    internal static bool TryReadTag(ReadOnlySpan<byte> message, ref int at, out uint tag)
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
    internal static bool TryReadLength(ReadOnlySpan<byte> message, ref int at, out int length)
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
    internal static bool TryReadVarint(ReadOnlySpan<byte> message, ref int at, out ulong value)
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

    private static int VarintSize(int value)
    {
        var size = 1;
        for (var v = (uint)value; v >= 0x80; v >>= 7)
        {
            size++;
        }

        return size;
    }

    private static void WriteVarint(uint value, byte[] buffer, ref int written)
    {
        while (value >= 0x80)
        {
            buffer[written++] = (byte)(value | 0x80);
            value >>= 7;
        }

        buffer[written++] = (byte)value;
    }

    private static void Copy(ReadOnlySpan<byte> from, byte[] buffer, ref int written)
    {
        from.CopyTo(buffer.AsSpan(written));
        written += from.Length;
    }

    /// <summary>Whether <paramref name="text"/> is valid UTF-8, as the generated parser requires of a string field.</summary>
    internal static bool IsValidUtf8(ReadOnlySpan<byte> text) => Utf8.IsValid(text);
}
