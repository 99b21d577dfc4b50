using Envoy.Service.Ratelimit.V3;
using Sidecars.RateLimiting;

namespace Sidecars.Envoy.RateLimiting;

/// <summary>
/// A ShouldRateLimit as the server reads it off the wire: either the core's <see cref="RateLimitQuery"/> filled
/// straight from the bytes by <see cref="Wire.RateLimitRequestReader"/> (no message, no string per field), or the
/// whole <see cref="RateLimitRequest"/> where that reading does not apply (in-process callers, and every message the
/// fast reading leaves to the lenient marshaller).
/// </summary>
/// <remarks>
/// A read call is pooled with its query, one per thread as the query pool is: the server releases it once the
/// answer is built. One that is never released (a call cancelled in between) is simply collected.
/// </remarks>
public sealed class RateLimitCall
{
    /// <summary>Stands for a RateLimitRequest that is not a protobuf message; compared by reference.</summary>
    public static readonly RateLimitCall Unreadable = new(Wire.EnvoyWire.UnreadableRateLimitRequest);

    // A read call that grew its query past the query's own bounds is not kept (see RateLimitQuery.Return).
    [ThreadStatic]
    private static RateLimitCall? t_cached;

    /// <summary>A call of a whole request.</summary>
    public RateLimitCall(RateLimitRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        Request = request;
    }

    private RateLimitCall(RateLimitQuery query)
    {
        Query = query;
    }

    /// <summary>The whole request, or null when the call was read straight into <see cref="Query"/>.</summary>
    public RateLimitRequest? Request { get; }

    /// <summary>The request as the core reads it, when it was read straight off the wire.</summary>
    public RateLimitQuery? Query { get; }

    /// <summary>A call to read into: its query empty.</summary>
    internal static RateLimitCall Rent()
    {
        var call = t_cached;
        if (call is null)
        {
            return new RateLimitCall(new RateLimitQuery());
        }

        t_cached = null;
        return call;
    }

    /// <summary>Gives a read call back to the pool once nothing reads its query any more; a call of a whole request is left alone.</summary>
    public void Release()
    {
        if (Query is { } query && RateLimitQuery.Reset(query))
        {
            t_cached = this;
        }
    }

    /// <summary>The call as a message (a client sending through <see cref="Wire.EnvoyWire.ShouldRateLimit"/>: tests and benchmarks).</summary>
    public RateLimitRequest ToRequest()
    {
        if (Request is { } request)
        {
            return request;
        }

        var query = Query!;
        var message = new RateLimitRequest { Domain = query.DomainName.ToString(), HitsAddend = query.HitsAddend };
        var text = query.Text;
        for (var d = 0; d < query.DescriptorCount; d++)
        {
            var input = query.Descriptors[d];
            var descriptor = new global::Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor();
            if (input.HitsAddend >= 0)
            {
                descriptor.HitsAddend = (ulong)input.HitsAddend;
            }

            if (input.HasOverride)
            {
                descriptor.Limit = new() { RequestsPerUnit = input.OverrideRequestsPerUnit, Unit = (global::Envoy.Type.V3.RateLimitUnit)(int)input.OverrideUnit };
            }

            foreach (var entry in query.EntriesOf(d))
            {
                descriptor.Entries.Add(new global::Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor.Types.Entry { Key = entry.KeyIn(text).ToString(), Value = entry.ValueIn(text).ToString() });
            }

            message.Descriptors.Add(descriptor);
        }

        return message;
    }
}
