using System.IO.Hashing;
using System.Text;

namespace Sidecars.Redis;

/// <summary>
/// Key layout, format version 1: <c>{prefix}v1:{{tag}}{bucket}</c>. <c>bucket</c> is the engine's escaped
/// bucket key (<c>domain|key=value|...#suffix</c>), or <c>#h:</c> and a 128-bit hash of it when it is longer
/// than the cap. <c>tag</c>, the Redis Cluster hash tag, is a 64-bit hash of the bucket key (buckets spread over
/// slots) or of the domain (<c>hash_tag: domain</c>: one slot per domain). Hashes are XxHash3/XxHash128, hex.
/// </summary>
internal static class RedisKeys
{
    public const string FormatVersion = "v1:";

    public static string Build(string prefix, string? domain, bool tagByDomain, ReadOnlySpan<char> bucket, int maxKeyLength)
    {
        var tag = tagByDomain && domain is not null ? Hash64(domain) : Hash64(bucket);
        var builder = new StringBuilder(prefix.Length + FormatVersion.Length + 18 + Math.Min(bucket.Length, maxKeyLength + 36));
        builder.Append(prefix).Append(FormatVersion).Append('{').Append(tag).Append('}');
        if (bucket.Length > maxKeyLength)
        {
            builder.Append("#h:").Append(Hash128(bucket));
        }
        else
        {
            builder.Append(bucket);
        }

        return builder.ToString();
    }

    private static string Hash64(ReadOnlySpan<char> text) =>
        XxHash3.HashToUInt64(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text)).ToString("x16", System.Globalization.CultureInfo.InvariantCulture);

    private static string Hash128(ReadOnlySpan<char> text) =>
        Convert.ToHexStringLower(XxHash128.Hash(System.Runtime.InteropServices.MemoryMarshal.AsBytes(text)));
}
