using System.Globalization;
using Sidecars.Authorization;
using Sidecars.RateLimiting;

namespace Sidecars.Envoy.RateLimiting;

/// <summary>
/// The IETF httpapi draft's <c>RateLimit</c> and <c>RateLimit-Policy</c> structured fields, as both the rate limit
/// service (with <c>Draft</c> headers on) and a service route's limits inside <c>Check</c> send them:
/// <c>RateLimit-Policy: "per-user";q=100;w=60</c> and <c>RateLimit: "per-user";r=42;t=3</c>.
/// </summary>
internal static class RateLimitHeaderText
{
    public const string Header = "ratelimit";
    public const string PolicyHeader = "ratelimit-policy";

    public static string Policy(CompiledLimit limit) =>
        $"{PolicyName(limit)};q={limit.RequestsPerUnit.ToString(CultureInfo.InvariantCulture)};w={RateLimitUnits.Seconds(limit.Unit).ToString(CultureInfo.InvariantCulture)}";

    public static string Remaining(CompiledLimit limit, uint remaining, long resetAfterNanos) =>
        $"{PolicyName(limit)};r={remaining.ToString(CultureInfo.InvariantCulture)};t={Seconds(resetAfterNanos)}";

    /// <summary>Whole seconds, rounded up (a wait of 0.2 s is 1).</summary>
    public static string Seconds(long nanos) =>
        RateLimitUnits.WholeSecondsRoundedUp(nanos).ToString(CultureInfo.InvariantCulture);

    /// <summary>Both fields for a reported limit.</summary>
    public static (string Name, string Value)[] For(in LimitReport report) =>
        [(PolicyHeader, Policy(report.Limit)), (Header, Remaining(report.Limit, report.Remaining, report.ResetAfterNanos))];

    /// <summary>An RFC 8941 sf-string naming the policy: the limit's name, else its unit.</summary>
    public static string PolicyName(CompiledLimit limit)
    {
        var name = limit.Name ?? RateLimitUnits.Name(limit.Unit);
        var builder = new System.Text.StringBuilder(name.Length + 2).Append('"');
        foreach (var c in name)
        {
            if (c is < ' ' or > '~')
            {
                continue;
            }

            if (c is '"' or '\\')
            {
                builder.Append('\\');
            }

            builder.Append(c);
        }

        return builder.Append('"').ToString();
    }
}
