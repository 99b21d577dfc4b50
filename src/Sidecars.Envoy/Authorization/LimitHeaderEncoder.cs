using System.Text;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Sidecars.Authorization;
using Sidecars.Envoy.RateLimiting;
using Sidecars.RateLimiting;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// The RateLimit headers of an allow inside <c>Check</c>, appended to the kept allow's bytes as a second
/// <c>ok_response</c> (field 3) holding only <c>response_headers_to_add</c> (field 6): protobuf merges the two, so
/// Envoy reads the kept allow plus these headers. <c>RateLimit-Policy</c> depends only on the limit and is encoded
/// once (kept in <see cref="CompiledLimit.AdapterState"/>); <c>RateLimit</c> is written per call straight into the
/// gRPC output by the response marshaller, so a charged allow costs its answer object and task, no array (issue 9's
/// hot-path budget).
/// </summary>
/// <remarks>
/// Field numbers: CheckResponse.ok_response = 3, OkHttpResponse.response_headers_to_add = 6,
/// HeaderValueOption.header = 1 and append_action = 3, HeaderValue.key = 1 and value = 2 (envoy/service/auth/v3/external_auth.proto,
/// envoy/config/core/v3/base.proto). The tests parse the result back with the generated parser.
/// </remarks>
internal static class LimitHeaderEncoder
{
    private const byte OkResponseTag = (3 << 3) | 2;
    private const byte HeadersToAddTag = (6 << 3) | 2;
    private const byte HeaderTag = (1 << 3) | 2;
    private const byte KeyTag = (1 << 3) | 2;
    private const byte ValueTag = (2 << 3) | 2;
    private const byte AppendActionTag = 3 << 3;
    private static readonly byte[] RemainingKey = Encoding.ASCII.GetBytes(RateLimitHeaderText.Header);

    /// <summary>What depends on the limit alone: the whole encoded policy entry, and the limit's name as an sf-string.</summary>
    internal sealed class Kept(byte[] policyEntry, byte[] name)
    {
        public byte[] PolicyEntry { get; } = policyEntry;

        public byte[] Name { get; } = name;
    }

    public static CheckAnswer Extend(CheckAnswer allow, in LimitReport report) =>
        CheckAnswer.WithTail(allow, new LimitTail(KeptFor(report.Limit), report.Remaining, RateLimitUnits.WholeSecondsRoundedUp(report.ResetAfterNanos)));

    /// <summary>
    /// The per-call part: written by the response marshaller straight into the gRPC output after the kept allow's
    /// bytes (<see cref="CheckAnswer.WriteTo"/>), so the answer holds no array of its own.
    /// </summary>
    internal readonly struct LimitTail
    {
        private readonly Kept _kept;
        private readonly uint _remaining;
        private readonly long _seconds;

        internal LimitTail(Kept kept, uint remaining, long seconds)
        {
            // Three fields: the answer object carries this inline, so its sizes are computed when written, not kept.
            _kept = kept;
            _remaining = remaining;
            _seconds = seconds;
        }

        /// <summary>Bytes this part adds to the answer.</summary>
        public int Length => Sizes().Total;

        /// <summary>ok_response { response_headers_to_add: [RateLimit-Policy (kept), RateLimit: "name";r=R;t=T] }.</summary>
        public void WriteTo(Span<byte> destination)
        {
            var (value, header, option, ok, _) = Sizes();
            var at = 0;
            destination[at++] = OkResponseTag;
            at += WriteVarint(destination[at..], ok);
            _kept.PolicyEntry.CopyTo(destination[at..]);
            at += _kept.PolicyEntry.Length;
            destination[at++] = HeadersToAddTag;
            at += WriteVarint(destination[at..], option);
            destination[at++] = HeaderTag;
            at += WriteVarint(destination[at..], header);
            destination[at++] = KeyTag;
            destination[at++] = (byte)RemainingKey.Length;
            RemainingKey.CopyTo(destination[at..]);
            at += RemainingKey.Length;
            destination[at++] = ValueTag;
            at += WriteVarint(destination[at..], value);
            _kept.Name.CopyTo(destination[at..]);
            at += _kept.Name.Length;
            ";r="u8.CopyTo(destination[at..]);
            at += 3;
            at += WriteDigits(destination[at..], _remaining);
            ";t="u8.CopyTo(destination[at..]);
            at += 3;
            at += WriteDigits(destination[at..], (ulong)_seconds);
            destination[at++] = AppendActionTag;
            destination[at] = (byte)HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd;
        }

        /// <summary>
        /// The nested lengths, innermost first, each computed once: as chained properties each level read the one
        /// below twice, 32 digit counts per call, the charged allow's largest cost under h2load.
        /// </summary>
        private (int Value, int Header, int Option, int Ok, int Total) Sizes()
        {
            var value = _kept.Name.Length + 3 + Digits(_remaining) + 3 + Digits((ulong)_seconds);
            var header = 2 + RemainingKey.Length + 1 + VarintSize(value) + value;
            var option = 1 + VarintSize(header) + header + 2;
            var ok = _kept.PolicyEntry.Length + 1 + VarintSize(option) + option;
            return (value, header, option, ok, 1 + VarintSize(ok) + ok);
        }

        /// <summary>Decimal digits, written backwards into the room <see cref="Digits"/> counted (no format parsing per call).</summary>
        private static int WriteDigits(Span<byte> destination, ulong value)
        {
            var count = Digits(value);
            for (var i = count - 1; i >= 0; i--)
            {
                (value, var digit) = Math.DivRem(value, 10);
                destination[i] = (byte)('0' + digit);
            }

            return count;
        }

        private static int Digits(ulong value)
        {
            // Multiplying up, not dividing down: a 9-digit remaining is 9 compares, no division.
            var digits = 1;
            for (ulong bound = 10; value >= bound; bound *= 10)
            {
                if (++digits == 20)
                {
                    break;
                }
            }

            return digits;
        }
    }

    private static Kept KeptFor(CompiledLimit limit)
    {
        if (limit.AdapterState is Kept kept)
        {
            return kept;
        }

        var option = AllowResponses.Overwrite(RateLimitHeaderText.PolicyHeader, RateLimitHeaderText.Policy(limit));
        var encoded = option.ToByteArray();
        var entry = new byte[1 + VarintSize(encoded.Length) + encoded.Length];
        entry[0] = HeadersToAddTag;
        var at = 1 + WriteVarint(entry.AsSpan(1), encoded.Length);
        encoded.CopyTo(entry.AsSpan(at));
        kept = new Kept(entry, Encoding.ASCII.GetBytes(RateLimitHeaderText.PolicyName(limit)));
        limit.AdapterState = kept;
        return kept;
    }

    private static int VarintSize(int value) => value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;

    private static int WriteVarint(Span<byte> destination, int value)
    {
        var at = 0;
        var v = (uint)value;
        while (v >= 0x80)
        {
            destination[at++] = (byte)(v | 0x80);
            v >>= 7;
        }

        destination[at++] = (byte)v;
        return at;
    }
}
