using Envoy.Service.Ratelimit.V3;
using Grpc.Core;
using Sidecars.RateLimiting;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;
using HeaderValue = Envoy.Config.Core.V3.HeaderValue;

namespace Sidecars.Envoy.RateLimiting;

/// <summary>
/// Envoy's <c>envoy.service.ratelimit.v3.RateLimitService</c>: maps the protobuf request to the core's query,
/// and the core's outcome back to a response. No decision logic lives here.
/// </summary>
public sealed class RateLimitServiceAdapter(RateLimitEngine engine, RateLimitHeadersOptions headers) : RateLimitService.RateLimitServiceBase
{
    // Shared, never mutated: serialising a message only reads it.
    private static readonly DescriptorStatus OkWithoutLimit = new() { Code = Code.Ok };
    private static readonly DescriptorStatus OkUnlimited = new() { Code = Code.Ok, LimitRemaining = uint.MaxValue };

    // Not UNKNOWN, which says "bug"; behind failure_mode_deny: false every status lets the request through.
    private static readonly Status UnreadableStatus = new(StatusCode.InvalidArgument, "malformed request: not a RateLimitRequest protobuf message");

    /// <summary>The generated service's method (in-process callers and tests); the server binds <see cref="Answer(RateLimitCall, CancellationToken)"/>.</summary>
    public override async Task<RateLimitResponse> ShouldRateLimit(RateLimitRequest request, ServerCallContext context) =>
        (await Answer(request, context.CancellationToken).ConfigureAwait(false)).ToMessage();

    /// <summary>
    /// The decision's answer to a whole request, encoded straight from the outcomes unless it adds headers
    /// (see <see cref="RateLimitAnswer"/>). Throws <see cref="RpcException"/> for a request it refuses.
    /// </summary>
    public Task<RateLimitAnswer> Answer(RateLimitRequest request, CancellationToken cancellationToken)
    {
        if (ReferenceEquals(request, Wire.EnvoyWire.UnreadableRateLimitRequest))
        {
            throw new RpcException(UnreadableStatus);
        }

        CheckBounds(request);
        var query = RateLimitQuery.Rent();
        Map(request, query);
        return Decide(query, owner: null, cancellationToken);
    }

    /// <summary>
    /// The server's entry for a call read off the wire: a call read straight into its query is decided as it is (the
    /// reader kept to the bounds the adapter checks on a message, and the engine checks the configured ones), any
    /// other as its message. Releases the call once its answer is built.
    /// </summary>
    public Task<RateLimitAnswer> Answer(RateLimitCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        return call.Request is { } request ? Answer(request, cancellationToken) : Decide(call.Query!, call, cancellationToken);
    }

    /// <summary>Decides <paramref name="query"/>, then gives it back: to its <paramref name="owner"/> call, else to the query pool.</summary>
    private Task<RateLimitAnswer> Decide(RateLimitQuery query, RateLimitCall? owner, CancellationToken cancellationToken)
    {
        var release = true;
        try
        {
            var pending = engine.DecideAsync(query, cancellationToken);
            if (pending.IsCompletedSuccessfully)
            {
                return Task.FromResult(BuildAnswer(query));
            }

            // A shared store answers later: the query is given back when that answer is built.
            release = false;
            return Finish(pending, query, owner);
        }
        catch (RateLimitRequestException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        finally
        {
            if (release)
            {
                Release(query, owner);
            }
        }
    }

    private async Task<RateLimitAnswer> Finish(ValueTask<RateLimitCode> pending, RateLimitQuery query, RateLimitCall? owner)
    {
        try
        {
            await pending.ConfigureAwait(false);
            return BuildAnswer(query);
        }
        catch (RateLimitRequestException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        finally
        {
            Release(query, owner);
        }
    }

    private static void Release(RateLimitQuery query, RateLimitCall? owner)
    {
        if (owner is not null)
        {
            owner.Release();
        }
        else
        {
            RateLimitQuery.Return(query);
        }
    }

    /// <summary>Rejects oversized requests before copying anything out of them.</summary>
    private void CheckBounds(RateLimitRequest request)
    {
        var options = engine.Options;
        if (request.Descriptors.Count > options.MaxDescriptors)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"rate limit request has {request.Descriptors.Count} descriptors; at most {options.MaxDescriptors} are accepted"));
        }

        for (var i = 0; i < request.Descriptors.Count; i++)
        {
            var descriptor = request.Descriptors[i];
            if (descriptor.Entries.Count > options.MaxEntriesPerDescriptor)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"descriptor {i} has {descriptor.Entries.Count} entries; at most {options.MaxEntriesPerDescriptor} are accepted"));
            }

            if (descriptor.Limit is { } limit && OverrideUnit(limit.Unit) == RateLimitUnit.Unknown)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, $"descriptor {i} has a limit override with unit {(int)limit.Unit}, which is no unit: 1 second, 2 minute, 3 hour, 4 day, 5 month, 6 year, 7 week"));
            }
        }
    }

    /// <summary>
    /// The unit of a request's <c>limit</c> override. Envoy's <c>envoy.type.v3.RateLimitUnit</c> numbers SECOND (1)
    /// to YEAR (6) as the response's unit does; envoyproxy/ratelimit reads the number as a response unit, where 7
    /// is WEEK, so 7 is a week here too (Envoy itself cannot send it). Anything else is unknown and refused.
    /// </summary>
    internal static RateLimitUnit OverrideUnit(global::Envoy.Type.V3.RateLimitUnit unit) => (int)unit switch
    {
        >= (int)RateLimitUnit.Second and <= (int)RateLimitUnit.Week => (RateLimitUnit)(int)unit,
        _ => RateLimitUnit.Unknown,
    };

    internal static void Map(RateLimitRequest request, RateLimitQuery query)
    {
        query.SetDomain(request.Domain);
        query.HitsAddend = request.HitsAddend;

        // Indexed loops: RepeatedField's enumerator is an allocated iterator.
        var descriptors = request.Descriptors;
        for (var d = 0; d < descriptors.Count; d++)
        {
            var descriptor = descriptors[d];
            var limit = descriptor.Limit;
            query.BeginDescriptor(
                descriptor.HitsAddend is { } hits ? (long)Math.Min(hits, long.MaxValue) : -1,
                limit is not null,
                limit?.RequestsPerUnit ?? 0,
                limit is null ? RateLimitUnit.Unknown : OverrideUnit(limit.Unit));
            var entries = descriptor.Entries;
            for (var e = 0; e < entries.Count; e++)
            {
                query.AddEntry(entries[e].Key, entries[e].Value);
            }
        }
    }

    /// <summary>Encoded unless the answer adds response headers, which stay on the message path (they are opt-in).</summary>
    internal RateLimitAnswer BuildAnswer(RateLimitQuery query) =>
        AddsHeaders(query)
            ? new RateLimitAnswer(BuildResponse(query))
            : new RateLimitAnswer(RateLimitAnswerEncoder.Encode(query), (Code)query.OverallCode);

    private bool AddsHeaders(RateLimitQuery query)
    {
        if (query.BackendUnavailable && headers.Backend)
        {
            return true;
        }

        if (!headers.Enabled && !headers.Draft)
        {
            return false;
        }

        var outcomes = query.Outcomes;
        for (var i = 0; i < outcomes.Length; i++)
        {
            if (outcomes[i].Limit is not null)
            {
                return true;
            }
        }

        return false;
    }

    internal RateLimitResponse BuildResponse(RateLimitQuery query)
    {
        var response = new RateLimitResponse { OverallCode = (Code)query.OverallCode };
        var outcomes = query.Outcomes;
        response.Statuses.Capacity = outcomes.Length;
        var tightest = -1;
        for (var i = 0; i < outcomes.Length; i++)
        {
            ref readonly var outcome = ref outcomes[i];
            if (outcome.Limit is null)
            {
                response.Statuses.Add(outcome.Unlimited ? OkUnlimited : OkWithoutLimit);
                continue;
            }

            response.Statuses.Add(new DescriptorStatus
            {
                Code = outcome.ShadowedOverLimit ? Code.Ok : (Code)outcome.Code,
                CurrentLimit = CurrentLimit(outcome.Limit),
                LimitRemaining = outcome.Remaining,
                DurationUntilReset = ToDuration(outcome.ResetAfterNanos),
            });
            if (tightest < 0 || outcome.Remaining < outcomes[tightest].Remaining)
            {
                tightest = i;
            }
        }

        if (tightest >= 0 && (headers.Enabled || headers.Draft))
        {
            AddHeaders(response, outcomes[tightest]);
        }

        if (query.BackendUnavailable && headers.Backend)
        {
            response.ResponseHeadersToAdd.Add(new HeaderValue { Key = headers.BackendHeader, Value = "unavailable" });
        }

        return response;
    }

    /// <summary>
    /// The limit as Envoy reads it, built once per compiled limit and shared by every response that reports it
    /// (serialising a message only reads it: Google.Protobuf caches no size, grpc-dotnet mutates no response).
    /// </summary>
    private static RateLimitResponse.Types.RateLimit CurrentLimit(CompiledLimit limit) => Reported(limit).Message;

    /// <summary>The limit as Envoy reads it, encoded (the body of a DescriptorStatus's current_limit).</summary>
    internal static byte[] CurrentLimitBytes(CompiledLimit limit) => Reported(limit).Encoded;

    private static ReportedLimit Reported(CompiledLimit limit)
    {
        if (limit.AdapterState is ReportedLimit built)
        {
            return built;
        }

        var message = new RateLimitResponse.Types.RateLimit
        {
            RequestsPerUnit = limit.RequestsPerUnit,
            Unit = (RateLimitResponse.Types.RateLimit.Types.Unit)(int)limit.Unit,
            Name = limit.Name ?? string.Empty,
        };
        built = new ReportedLimit(message, Google.Protobuf.MessageExtensions.ToByteArray(message));
        limit.AdapterState = built;
        return built;
    }

    /// <summary>Both forms of one compiled limit's current_limit, built once; immutable.</summary>
    private sealed record ReportedLimit(RateLimitResponse.Types.RateLimit Message, byte[] Encoded);

    private void AddHeaders(RateLimitResponse response, in DescriptorOutcome outcome)
    {
        var limit = outcome.Limit!;
        var resetSeconds = RateLimitUnits.WholeSecondsRoundedUp(outcome.ResetAfterNanos);
        if (headers.Enabled)
        {
            response.ResponseHeadersToAdd.Add(new HeaderValue { Key = headers.LimitHeader, Value = limit.RequestsPerUnit.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            response.ResponseHeadersToAdd.Add(new HeaderValue { Key = headers.RemainingHeader, Value = outcome.Remaining.ToString(System.Globalization.CultureInfo.InvariantCulture) });
            response.ResponseHeadersToAdd.Add(new HeaderValue { Key = headers.ResetHeader, Value = resetSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        }

        if (headers.Draft)
        {
            response.ResponseHeadersToAdd.Add(new HeaderValue { Key = headers.DraftPolicyHeader, Value = RateLimitHeaderText.Policy(limit) });
            response.ResponseHeadersToAdd.Add(new HeaderValue { Key = headers.DraftHeader, Value = RateLimitHeaderText.Remaining(limit, outcome.Remaining, outcome.ResetAfterNanos) });
        }
    }

    private static Google.Protobuf.WellKnownTypes.Duration ToDuration(long nanos) => new()
    {
        Seconds = nanos / RateLimitUnits.NanosPerSecond,
        Nanos = (int)(nanos % RateLimitUnits.NanosPerSecond),
    };
}
