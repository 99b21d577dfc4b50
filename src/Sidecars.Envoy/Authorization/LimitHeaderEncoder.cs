using System.Buffers.Text;
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
/// answer's bytes, so a charged allow costs one array and its answer object (issue 9's hot-path budget).
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
    private sealed class Kept(byte[] policyEntry, byte[] name)
    {
        public byte[] PolicyEntry { get; } = policyEntry;

        public byte[] Name { get; } = name;
    }

    public static CheckAnswer Extend(CheckAnswer allow, in LimitReport report)
    {
        var kept = KeptFor(report.Limit);

        // "name";r=REMAINING;t=SECONDS
        Span<byte> value = stackalloc byte[kept.Name.Length + 48];
        kept.Name.CopyTo(value);
        var length = kept.Name.Length;
        ";r="u8.CopyTo(value[length..]);
        length += 3;
        Utf8Formatter.TryFormat(report.Remaining, value[length..], out var written);
        length += written;
        ";t="u8.CopyTo(value[length..]);
        length += 3;
        Utf8Formatter.TryFormat(RoundedUpSeconds(report.ResetAfterNanos), value[length..], out written);
        length += written;
        var text = value[..length];

        var headerValue = 2 + RemainingKey.Length + 1 + VarintSize(text.Length) + text.Length;
        var option = 1 + VarintSize(headerValue) + headerValue + 2;
        var entry = 1 + VarintSize(option) + option;
        var ok = kept.PolicyEntry.Length + entry;
        var existing = allow.Encoded;
        var bytes = new byte[existing.Length + 1 + VarintSize(ok) + ok];
        existing.CopyTo(bytes);
        var at = existing.Length;
        bytes[at++] = OkResponseTag;
        at += WriteVarint(bytes.AsSpan(at), ok);
        kept.PolicyEntry.CopyTo(bytes.AsSpan(at));
        at += kept.PolicyEntry.Length;
        bytes[at++] = HeadersToAddTag;
        at += WriteVarint(bytes.AsSpan(at), option);
        bytes[at++] = HeaderTag;
        at += WriteVarint(bytes.AsSpan(at), headerValue);
        bytes[at++] = KeyTag;
        bytes[at++] = (byte)RemainingKey.Length;
        RemainingKey.CopyTo(bytes.AsSpan(at));
        at += RemainingKey.Length;
        bytes[at++] = ValueTag;
        at += WriteVarint(bytes.AsSpan(at), text.Length);
        text.CopyTo(bytes.AsSpan(at));
        at += text.Length;
        bytes[at++] = AppendActionTag;
        bytes[at] = (byte)HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd;
        return CheckAnswer.FromEncoded(bytes, allow.StatusCode);
    }

    private static long RoundedUpSeconds(long nanos) => (Math.Max(nanos, 0) + RateLimitUnits.NanosPerSecond - 1) / RateLimitUnits.NanosPerSecond;

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
