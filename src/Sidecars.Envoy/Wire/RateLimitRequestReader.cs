using System.Buffers;
using Envoy.Service.Ratelimit.V3;
using Sidecars.Envoy.RateLimiting;
using Sidecars.RateLimiting;
using Descriptor = Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Reads a RateLimitRequest straight into the core's <see cref="RateLimitQuery"/>: the domain and every entry's key
/// and value decoded from UTF-8 into the query's one character buffer. The generated parser made a message, two
/// repeated fields per descriptor, an object per entry and a string per field (about 1.2 KB for three descriptors),
/// which <c>RateLimitServiceAdapter.Map</c> then copied into the same query; that was most of what ShouldRateLimit
/// allocated on the wire, and so most of its collections under load (issue 8).
/// </summary>
/// <remarks>
/// Exactness first, as in <see cref="CheckRequestReader"/>: the query is filled only where the result is provably the
/// one <c>Map</c> gives for the generated parser's message, and every other message takes
/// <see cref="LenientMarshaller"/>'s path unchanged. So this reader accepts each known field with its own wire type
/// and at most once where the field is singular (the parser's last-one-wins and merge rules are left to it), string
/// fields that are valid UTF-8, limit overrides whose unit the service accepts (the adapter words the refusal of
/// any other), and unknown fields it can skip; it stops at <see cref="MaxDescriptors"/> descriptors or
/// <see cref="MaxEntries"/> entries, where the adapter's bounds check the parsed message first.
/// </remarks>
public static class RateLimitRequestReader
{
    // Far beyond any sane request (Envoy sends a handful), below where copying before refusing would cost.
    internal const int MaxDescriptors = 256;
    internal const int MaxEntries = 1024;

    /// <summary>The call as the server reads it: the fast reading, else the lenient marshaller's.</summary>
    public static RateLimitCall Read(in ReadOnlySequence<byte> payload)
    {
        if (payload.Length <= int.MaxValue && !LenientUtf8.ContainsEscape(payload))
        {
            var call = RateLimitCall.Rent();
            if (payload.IsSingleSegment)
            {
                if (TryRead(payload.FirstSpan, call.Query!))
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
                    if (TryRead(copy.AsSpan(0, (int)payload.Length), call.Query!))
                    {
                        return call;
                    }
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(copy);
                }
            }

            call.Release();
        }

        var request = LenientMarshaller.Read(payload, RateLimitRequest.Parser, RateLimitRequest.Descriptor, EnvoyWire.UnreadableRateLimitRequest);
        return ReferenceEquals(request, EnvoyWire.UnreadableRateLimitRequest) ? RateLimitCall.Unreadable : new RateLimitCall(request);
    }

    /// <summary>Fills the empty <paramref name="query"/>; false where the generated parser must read the message (the query is then partly filled).</summary>
    internal static bool TryRead(ReadOnlySpan<byte> message, RateLimitQuery query)
    {
        var domainSeen = false;
        var hitsSeen = false;
        var at = 0;
        while (at < message.Length)
        {
            if (!ProtoWire.TryReadTag(message, ref at, out var tag))
            {
                return false;
            }

            var wireType = (int)(tag & 7);
            switch ((int)(tag >> 3))
            {
                case RateLimitRequest.DomainFieldNumber:
                    if (domainSeen || !TryReadContent(message, ref at, wireType, out var domain) || !query.TrySetDomainUtf8(domain))
                    {
                        return false;
                    }

                    domainSeen = true;
                    break;
                case RateLimitRequest.DescriptorsFieldNumber:
                    if (query.DescriptorCount == MaxDescriptors || !TryReadContent(message, ref at, wireType, out var descriptor) || !TryReadDescriptor(descriptor, query))
                    {
                        return false;
                    }

                    break;
                case RateLimitRequest.HitsAddendFieldNumber:
                    if (hitsSeen || wireType != ProtoWire.Varint || !ProtoWire.TryReadVarint(message, ref at, out var hits))
                    {
                        return false;
                    }

                    query.HitsAddend = (uint)hits;
                    hitsSeen = true;
                    break;
                default:
                    if (!ProtoWire.TrySkip(message, ref at, wireType))
                    {
                        return false;
                    }

                    break;
            }
        }

        return true;
    }

    /// <summary>One descriptor: its override and hits first (the query takes them when the descriptor begins), then its entries in order.</summary>
    private static bool TryReadDescriptor(ReadOnlySpan<byte> descriptor, RateLimitQuery query)
    {
        var hitsAddend = -1L;
        var hasOverride = false;
        var requestsPerUnit = 0u;
        var unit = RateLimitUnit.Unknown;
        var at = 0;
        while (at < descriptor.Length)
        {
            if (!ProtoWire.TryReadTag(descriptor, ref at, out var tag))
            {
                return false;
            }

            var wireType = (int)(tag & 7);
            switch ((int)(tag >> 3))
            {
                case Descriptor.EntriesFieldNumber:
                    if (!TryReadContent(descriptor, ref at, wireType, out _))
                    {
                        return false;
                    }

                    break;
                case Descriptor.LimitFieldNumber:
                    if (hasOverride || !TryReadContent(descriptor, ref at, wireType, out var limit) || !TryReadOverride(limit, out requestsPerUnit, out unit))
                    {
                        return false;
                    }

                    hasOverride = true;
                    break;
                case Descriptor.HitsAddendFieldNumber:
                    if (hitsAddend >= 0 || !TryReadContent(descriptor, ref at, wireType, out var wrapper) || !TryReadUInt64Value(wrapper, out var hits))
                    {
                        return false;
                    }

                    hitsAddend = (long)Math.Min(hits, long.MaxValue);
                    break;
                default:
                    if (!ProtoWire.TrySkip(descriptor, ref at, wireType))
                    {
                        return false;
                    }

                    break;
            }
        }

        query.BeginDescriptor(hitsAddend, hasOverride, requestsPerUnit, unit);
        at = 0;
        while (at < descriptor.Length)
        {
            // The first pass walked these bytes: every read below succeeds.
            ProtoWire.TryReadTag(descriptor, ref at, out var tag);
            var wireType = (int)(tag & 7);
            if ((int)(tag >> 3) != Descriptor.EntriesFieldNumber)
            {
                ProtoWire.TrySkip(descriptor, ref at, wireType);
                continue;
            }

            TryReadContent(descriptor, ref at, wireType, out var entry);
            if (query.EntryCount == MaxEntries || !TryReadEntry(entry, query))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryReadEntry(ReadOnlySpan<byte> entry, RateLimitQuery query)
    {
        ReadOnlySpan<byte> key = default, value = default;
        bool keySeen = false, valueSeen = false;
        var at = 0;
        while (at < entry.Length)
        {
            if (!ProtoWire.TryReadTag(entry, ref at, out var tag))
            {
                return false;
            }

            var wireType = (int)(tag & 7);
            switch ((int)(tag >> 3))
            {
                case Descriptor.Types.Entry.KeyFieldNumber:
                    if (keySeen || !TryReadContent(entry, ref at, wireType, out key))
                    {
                        return false;
                    }

                    keySeen = true;
                    break;
                case Descriptor.Types.Entry.ValueFieldNumber:
                    if (valueSeen || !TryReadContent(entry, ref at, wireType, out value))
                    {
                        return false;
                    }

                    valueSeen = true;
                    break;
                default:
                    if (!ProtoWire.TrySkip(entry, ref at, wireType))
                    {
                        return false;
                    }

                    break;
            }
        }

        return query.TryAddEntryUtf8(key, value);
    }

    private static bool TryReadOverride(ReadOnlySpan<byte> limit, out uint requestsPerUnit, out RateLimitUnit unit)
    {
        requestsPerUnit = 0;
        var unitNumber = 0;
        bool rateSeen = false, unitSeen = false;
        var at = 0;
        while (at < limit.Length)
        {
            if (!ProtoWire.TryReadTag(limit, ref at, out var tag))
            {
                unit = RateLimitUnit.Unknown;
                return false;
            }

            var wireType = (int)(tag & 7);
            var number = (int)(tag >> 3);
            if (number is Descriptor.Types.RateLimitOverride.RequestsPerUnitFieldNumber or Descriptor.Types.RateLimitOverride.UnitFieldNumber)
            {
                var isRate = number == Descriptor.Types.RateLimitOverride.RequestsPerUnitFieldNumber;
                if ((isRate ? rateSeen : unitSeen) || wireType != ProtoWire.Varint || !ProtoWire.TryReadVarint(limit, ref at, out var value))
                {
                    unit = RateLimitUnit.Unknown;
                    return false;
                }

                // uint32 and the enum are both read as a varint cut to 32 bits.
                if (isRate)
                {
                    requestsPerUnit = (uint)value;
                    rateSeen = true;
                }
                else
                {
                    unitNumber = (int)(uint)value;
                    unitSeen = true;
                }
            }
            else if (!ProtoWire.TrySkip(limit, ref at, wireType))
            {
                unit = RateLimitUnit.Unknown;
                return false;
            }
        }

        // A unit the service refuses: the parsed message's path says why, in its own words.
        unit = RateLimitServiceAdapter.OverrideUnit((global::Envoy.Type.V3.RateLimitUnit)unitNumber);
        return unit != RateLimitUnit.Unknown;
    }

    /// <summary><c>google.protobuf.UInt64Value</c>: its value (0 when the wrapper is empty).</summary>
    private static bool TryReadUInt64Value(ReadOnlySpan<byte> wrapper, out ulong value)
    {
        value = 0;
        var seen = false;
        var at = 0;
        while (at < wrapper.Length)
        {
            if (!ProtoWire.TryReadTag(wrapper, ref at, out var tag))
            {
                return false;
            }

            var wireType = (int)(tag & 7);
            if ((int)(tag >> 3) == 1)
            {
                if (seen || wireType != ProtoWire.Varint || !ProtoWire.TryReadVarint(wrapper, ref at, out value))
                {
                    return false;
                }

                seen = true;
            }
            else if (!ProtoWire.TrySkip(wrapper, ref at, wireType))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A length-delimited field's content; false for any other wire type or a length past the end.</summary>
    private static bool TryReadContent(ReadOnlySpan<byte> message, scoped ref int at, int wireType, out ReadOnlySpan<byte> content)
    {
        content = default;
        if (wireType != ProtoWire.LengthDelimited || !ProtoWire.TryReadLength(message, ref at, out var length))
        {
            return false;
        }

        content = message.Slice(at, length);
        at += length;
        return true;
    }
}
