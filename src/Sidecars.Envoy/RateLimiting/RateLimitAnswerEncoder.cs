using Google.Protobuf;
using Sidecars.RateLimiting;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Envoy.RateLimiting;

/// <summary>
/// Writes a <c>RateLimitResponse</c> without headers straight from a decided query, byte for byte what the
/// generated code writes for the message <see cref="RateLimitServiceAdapter.BuildResponse"/> builds (a test holds
/// the two equal). Field numbers from envoy/service/ratelimit/v3/rls.proto and google/protobuf/duration.proto.
/// </summary>
internal static class RateLimitAnswerEncoder
{
    // Tags: field number << 3 | wire type (0 varint, 2 length-delimited). Every tag here fits one byte.
    private const byte OverallCodeTag = (1 << 3) | 0;
    private const byte StatusesTag = (2 << 3) | 2;
    private const byte StatusCodeTag = (1 << 3) | 0;
    private const byte CurrentLimitTag = (2 << 3) | 2;
    private const byte LimitRemainingTag = (3 << 3) | 0;
    private const byte DurationUntilResetTag = (4 << 3) | 2;
    private const byte SecondsTag = (1 << 3) | 0;
    private const byte NanosTag = (2 << 3) | 0;

    public static byte[] Encode(RateLimitQuery query)
    {
        var outcomes = query.Outcomes;
        var overall = (int)query.OverallCode;
        var size = overall == 0 ? 0 : 1 + CodedOutputStream.ComputeEnumSize(overall);
        for (var i = 0; i < outcomes.Length; i++)
        {
            var status = StatusSize(outcomes[i]);
            size += 1 + CodedOutputStream.ComputeLengthSize(status) + status;
        }

        var bytes = new byte[size];
        var span = bytes.AsSpan();
        var at = 0;
        if (overall != 0)
        {
            span[at++] = OverallCodeTag;
            at += WriteVarint(span[at..], (ulong)(long)overall);
        }

        for (var i = 0; i < outcomes.Length; i++)
        {
            ref readonly var outcome = ref outcomes[i];
            span[at++] = StatusesTag;
            at += WriteVarint(span[at..], (uint)StatusSize(outcome));
            at += WriteStatus(span[at..], outcome);
        }

        return bytes;
    }

    private static int StatusCode(in DescriptorOutcome outcome) =>
        outcome.Limit is null || outcome.ShadowedOverLimit ? (int)Code.Ok : (int)outcome.Code;

    private static uint Remaining(in DescriptorOutcome outcome) =>
        outcome.Limit is null ? (outcome.Unlimited ? uint.MaxValue : 0) : outcome.Remaining;

    private static int StatusSize(in DescriptorOutcome outcome)
    {
        var code = StatusCode(outcome);
        var size = code == 0 ? 0 : 1 + CodedOutputStream.ComputeEnumSize(code);
        var remaining = Remaining(outcome);
        if (remaining != 0)
        {
            size += 1 + CodedOutputStream.ComputeUInt32Size(remaining);
        }

        if (outcome.Limit is { } limit)
        {
            var current = RateLimitServiceAdapter.CurrentLimitBytes(limit);
            size += 1 + CodedOutputStream.ComputeLengthSize(current.Length) + current.Length;
            var duration = DurationSize(outcome.ResetAfterNanos);
            size += 1 + CodedOutputStream.ComputeLengthSize(duration) + duration;
        }

        return size;
    }

    // Fields in field-number order, as the generated WriteTo writes them.
    private static int WriteStatus(Span<byte> span, in DescriptorOutcome outcome)
    {
        var at = 0;
        var code = StatusCode(outcome);
        if (code != 0)
        {
            span[at++] = StatusCodeTag;
            at += WriteVarint(span[at..], (ulong)(long)code);
        }

        if (outcome.Limit is { } limit)
        {
            var current = RateLimitServiceAdapter.CurrentLimitBytes(limit);
            span[at++] = CurrentLimitTag;
            at += WriteVarint(span[at..], (uint)current.Length);
            current.CopyTo(span[at..]);
            at += current.Length;
        }

        var remaining = Remaining(outcome);
        if (remaining != 0)
        {
            span[at++] = LimitRemainingTag;
            at += WriteVarint(span[at..], remaining);
        }

        if (outcome.Limit is not null)
        {
            var (seconds, nanos) = Split(outcome.ResetAfterNanos);
            span[at++] = DurationUntilResetTag;
            at += WriteVarint(span[at..], (uint)DurationSize(outcome.ResetAfterNanos));
            if (seconds != 0)
            {
                span[at++] = SecondsTag;
                at += WriteVarint(span[at..], (ulong)seconds);
            }

            if (nanos != 0)
            {
                span[at++] = NanosTag;
                at += WriteVarint(span[at..], (ulong)(long)nanos);
            }
        }

        return at;
    }

    private static (long Seconds, int Nanos) Split(long nanos) =>
        (nanos / RateLimitUnits.NanosPerSecond, (int)(nanos % RateLimitUnits.NanosPerSecond));

    private static int DurationSize(long resetNanos)
    {
        var (seconds, nanos) = Split(resetNanos);
        return (seconds == 0 ? 0 : 1 + CodedOutputStream.ComputeInt64Size(seconds)) + (nanos == 0 ? 0 : 1 + CodedOutputStream.ComputeInt32Size(nanos));
    }

    // A negative int32 or int64 is written as its 64-bit two's complement: ten bytes, as protobuf does.
    private static int WriteVarint(Span<byte> span, ulong value)
    {
        var at = 0;
        while (value >= 0x80)
        {
            span[at++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[at++] = (byte)value;
        return at;
    }
}
