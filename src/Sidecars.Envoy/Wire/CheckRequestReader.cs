using System.Buffers;
using Envoy.Service.Auth.V3;
using Sidecars.Envoy.Authorization;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Reads what a decision needs of a CheckRequest, <c>attributes.request.http</c>, with its <c>headers</c> map kept as
/// bytes (<see cref="CheckHeaders"/>) instead of a <c>MapField</c> of strings, and checks the rest instead of parsing
/// it. The generated parser spent a fifth of the server's CPU under load on the 13 header entries Envoy sends (two
/// strings, a dictionary slot and a linked-list node each, 5.9 KB a call), and a tenth more on the peers, metadata
/// and TLS session no decision reads.
/// </summary>
/// <remarks>
/// Exactness first: this reader only answers where it can prove the generated parser would have read the message,
/// and hands everything else to that parser. It walks the three enclosing messages; each must occur exactly once,
/// every header entry must hold only its key (1) and value (2), both valid UTF-8. The HTTP attributes are parsed by
/// the generated parser with the header entries cut out, so their other fields, unknown ones included, read (or are
/// refused) as before; every field around them is checked by <see cref="WireValidator"/>, which is stricter than the
/// parser. Anything else, and any message that might hold an escaped byte, takes <see cref="LenientMarshaller"/>'s
/// path unchanged. A decision that comes to read another field (the source address, context extensions) reads it
/// here too, or takes the whole parse.
/// </remarks>
public static class CheckRequestReader
{
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
            || !TryFindOnly(attributes.ContentOf(message), AttributeContext.RequestFieldNumber, out var request)
            || !TryFindOnly(request.ContentOf(attributes.ContentOf(message)), AttributeContext.Types.Request.HttpFieldNumber, out var http))
        {
            return null;
        }

        // What the decision never reads is checked, not parsed: the parser would read each of these runs of fields.
        var attributesContent = attributes.ContentOf(message);
        var requestContent = request.ContentOf(attributesContent);
        if (!AroundIsParseable(message, attributes, CheckRequestSchema.Value)
            || !AroundIsParseable(attributesContent, request, AttributeContextSchema.Value)
            || !AroundIsParseable(requestContent, http, RequestSchema.Value))
        {
            return null;
        }

        var httpContent = http.ContentOf(requestContent);
        var peerAndContext = PeerAndContext(attributesContent);
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
                return ParseHttp(httpContent, headers: null, peerAndContext);
            }

            var headers = CheckHeaders.From(httpContent, entryBounds[..(entries * 2)]);
            if (headers is null)
            {
                return null;
            }

            // The HTTP attributes without their header entries, for the generated parser.
            var total = httpContent.Length - removed;
            var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(total, 1));
            try
            {
                var written = 0;
                var from = 0;
                for (var i = 0; i < entries; i++)
                {
                    Copy(httpContent[from..entryBounds[i * 2]], buffer, ref written);
                    from = entryBounds[(i * 2) + 1];
                }

                Copy(httpContent[from..], buffer, ref written);
                var call = written == total ? ParseHttp(buffer.AsSpan(0, total), headers, peerAndContext) : null;
                if (call is null)
                {
                    headers.Release();
                }

                return call;
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

    private static readonly Lazy<WireValidator.Schema> CheckRequestSchema = new(() => WireValidator.Schema.For(CheckRequest.Descriptor));
    private static readonly Lazy<WireValidator.Schema> AttributeContextSchema = new(() => WireValidator.Schema.For(AttributeContext.Descriptor));
    private static readonly Lazy<WireValidator.Schema> RequestSchema = new(() => WireValidator.Schema.For(AttributeContext.Types.Request.Descriptor));

    /// <summary>Whether the fields of <paramref name="parent"/> before and after <paramref name="field"/> would parse.</summary>
    private static bool AroundIsParseable(ReadOnlySpan<byte> parent, Field field, WireValidator.Schema schema) =>
        WireValidator.IsParseable(parent[..field.TagAt], schema) && WireValidator.IsParseable(parent[field.End..], schema);

    /// <summary>
    /// The fields <c>source</c> (1) and <c>context_extensions</c> (10) of the AttributeContext, copied as they are:
    /// together they are an AttributeContext holding only them, parsed if a rule or a limit asks (see
    /// <see cref="PeerAttributes"/>). Null when the request has neither. The walk cannot fail here: the
    /// fields around <c>request</c> were checked parseable.
    /// </summary>
    private static byte[]? PeerAndContext(ReadOnlySpan<byte> attributes)
    {
        var total = 0;
        for (var pass = 0; pass < 2; pass++)
        {
            byte[]? copy = pass == 1 ? new byte[total] : null;
            var written = 0;
            var at = 0;
            while (at < attributes.Length)
            {
                var start = at;
                if (!ProtoWire.TryReadTag(attributes, ref at, out var tag) || !ProtoWire.TrySkip(attributes, ref at, (int)(tag & 7)))
                {
                    return null;
                }

                var number = (int)(tag >> 3);
                if (number is AttributeContext.SourceFieldNumber or AttributeContext.ContextExtensionsFieldNumber)
                {
                    if (copy is null)
                    {
                        total += at - start;
                    }
                    else
                    {
                        attributes[start..at].CopyTo(copy.AsSpan(written));
                        written += at - start;
                    }
                }
            }

            if (total == 0)
            {
                return null;
            }

            if (copy is not null)
            {
                return copy;
            }
        }

        return null;
    }

    private static CheckCall? ParseHttp(ReadOnlySpan<byte> http, CheckHeaders? headers, byte[]? peerAndContext)
    {
        try
        {
            return new CheckCall(AttributeContext.Types.HttpRequest.Parser.ParseFrom(http), headers, peerAndContext);
        }
#pragma warning disable CA1031 // Not readable by the generated parser: the lenient path decides what it is, as before.
        catch (Exception)
#pragma warning restore CA1031
        {
            return null;
        }
    }

    /// <summary>Where a length-delimited field sits: its tag, its content and the content's length (offsets within the parent).</summary>
    private readonly record struct Field(int TagAt, int Content, int Length)
    {
        /// <summary>Just past the field.</summary>
        public int End => Content + Length;

        public ReadOnlySpan<byte> ContentOf(ReadOnlySpan<byte> parent) => parent.Slice(Content, Length);
    }

    /// <summary>The one occurrence of <paramref name="number"/>, length-delimited; false if absent, repeated, or the walk fails.</summary>
    private static bool TryFindOnly(ReadOnlySpan<byte> message, int number, out Field found)
    {
        found = default;
        var seen = false;
        var at = 0;
        while (at < message.Length)
        {
            var tagAt = at;
            if (!ProtoWire.TryReadTag(message, ref at, out var tag))
            {
                return false;
            }

            if ((int)(tag >> 3) == number)
            {
                if (seen || (tag & 7) != ProtoWire.LengthDelimited || !ProtoWire.TryReadLength(message, ref at, out var length))
                {
                    return false;
                }

                seen = true;
                found = new Field(tagAt, at, length);
                at += length;
            }
            else if (!ProtoWire.TrySkip(message, ref at, (int)(tag & 7)))
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
            if (!ProtoWire.TryReadTag(http, ref at, out var tag))
            {
                return false;
            }

            if ((int)(tag >> 3) != AttributeContext.Types.HttpRequest.HeadersFieldNumber)
            {
                if (!ProtoWire.TrySkip(http, ref at, (int)(tag & 7)))
                {
                    return false;
                }

                continue;
            }

            if ((tag & 7) != ProtoWire.LengthDelimited || !ProtoWire.TryReadLength(http, ref at, out var length) || entries == MaxEntries)
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

    private static void Copy(ReadOnlySpan<byte> from, byte[] buffer, ref int written)
    {
        from.CopyTo(buffer.AsSpan(written));
        written += from.Length;
    }
}
