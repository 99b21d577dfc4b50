using System.Text.Json;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Google.Protobuf.WellKnownTypes;
using Sidecars.Authorization;
using Sidecars.Authorization.Services;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// The answer to an allow, encoded once and shared. What it holds depends only on the validated token (its
/// claims, as metadata), the core's <see cref="UpstreamHeaders"/> for it, the route and which of the provider's
/// token headers the request carried; so it is kept in the token's
/// <see cref="Sidecars.Authentication.ValidatedToken.AdapterState"/> (one per route the token is used on, up to
/// <see cref="KeptPerToken"/>) and a cache hit answers with the very same completed task: no message, no Struct, no
/// string, no serialization per call.
/// </summary>
/// <remarks>
/// Kept as the response's protobuf bytes (<see cref="CheckAnswer.Encode"/>), not as the message: the message
/// graph of a claims <c>Struct</c> is dozens of small objects per cached token that every GC marks, and walking
/// it to serialize was the biggest cost of a cached allow (issue 8). The message is built on a miss and dropped.
/// </remarks>
internal sealed class AllowResponses
{
    /// <summary>The mask of a request whose provider has more token headers than a mask holds: built every time.</summary>
    private const ulong NotCacheable = ulong.MaxValue;

    private static readonly Google.Rpc.Status Ok = new() { Code = 0 };

    // An allow without a token depends only on the policy's UpstreamHeaders: one response per snapshot.
    private Task<CheckAnswer>? _withoutToken;

    /// <summary>The allow answer for <paramref name="decision"/>: the one kept for it, or a new one, then kept.</summary>
    public Task<CheckAnswer> For(in AuthDecision decision, CheckRequestView view)
    {
        var present = PresentTokenHeaders(decision.Upstream, view);
        var token = decision.Token;
        var state = token is not null ? token.AdapterState : Volatile.Read(ref _withoutToken);
        if (KeptFor(state, decision, present) is { } kept)
        {
            return kept;
        }

        // What it fits is kept in the answer itself: a cached token holds the task, the answer and its bytes, nothing more.
        var fit = present == NotCacheable ? default
            : token is not null ? new AllowFit(decision.Upstream, decision.Route, decision.Provider, present, Kept: true, decision.ServiceRoute)
            : new AllowFit(decision.Upstream, null, null, present, Kept: true);
        var response = Task.FromResult(CheckAnswer.EncodeKept(Create(decision, view), fit));
        if (fit.Kept)
        {
            if (token is not null)
            {
                token.AdapterState = WithAnswer(state, response, decision.Upstream);
            }
            else
            {
                Volatile.Write(ref _withoutToken, response);
            }
        }

        return response;
    }

    /// <summary>
    /// The answers kept with one token: one per route it is used on, up to this many. One slot made a token used on
    /// two routes (GET on a service route, then a shared one) encode an answer on every switch, ~600 B of garbage
    /// that cached tokens had promoted to gen2 (a 30 ms gen2 collection in a check+limit load round).
    /// </summary>
    internal const int KeptPerToken = 4;

    /// <summary>The kept answer that fits: <paramref name="state"/> is one answer or an array of them.</summary>
    private static Task<CheckAnswer>? KeptFor(object? state, in AuthDecision decision, ulong present)
    {
        if (state is Task<CheckAnswer> one)
        {
            return one.Result.Fit.Fits(decision, present) ? one : null;
        }

        if (state is Task<CheckAnswer>[] several)
        {
            foreach (var answer in several)
            {
                if (answer.Result.Fit.Fits(decision, present))
                {
                    return answer;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The token's answers with <paramref name="added"/>: a new array each time (readers on other threads keep the one
    /// they read; a lost race only drops an answer, rebuilt on its next use). Answers for other upstream headers go:
    /// the token's headers are kept for one policy snapshot and provider (<c>UpstreamShaping</c>), so after a reload
    /// they can never fit again. Past <see cref="KeptPerToken"/>, the oldest goes.
    /// </summary>
    private static object WithAnswer(object? state, Task<CheckAnswer> added, UpstreamHeaders? upstream)
    {
        ReadOnlySpan<Task<CheckAnswer>> kept = state switch
        {
            Task<CheckAnswer> one => new[] { one },
            Task<CheckAnswer>[] several => several,
            _ => [],
        };
        var live = 0;
        foreach (var answer in kept)
        {
            live += ReferenceEquals(answer.Result.Fit.Upstream, upstream) ? 1 : 0;
        }

        if (live == 0)
        {
            return added;
        }

        var skip = Math.Max(0, live - (KeptPerToken - 1));
        var answers = new Task<CheckAnswer>[live - skip + 1];
        var at = 0;
        foreach (var answer in kept)
        {
            if (ReferenceEquals(answer.Result.Fit.Upstream, upstream) && skip-- <= 0)
            {
                answers[at++] = answer;
            }
        }

        answers[at] = added;
        return answers;
    }

    /// <summary>Bit i is set when the request carries <see cref="UpstreamHeaders.TokenHeaders"/>[i].</summary>
    private static ulong PresentTokenHeaders(UpstreamHeaders? upstream, CheckRequestView view)
    {
        if (upstream is null)
        {
            return 0;
        }

        var headers = upstream.TokenHeaders;
        if (headers.Count >= 64)
        {
            return NotCacheable;
        }

        ulong mask = 0;
        for (var i = 0; i < headers.Count; i++)
        {
            if (view.HasHeader(headers[i]))
            {
                mask |= 1UL << i;
            }
        }

        return mask;
    }

    private static CheckResponse Create(in AuthDecision decision, CheckRequestView view)
    {
        var ok = new OkHttpResponse();
        var response = new CheckResponse { Status = Ok, OkResponse = ok };

        // Always: the deciding provider's headers set, every other configured claim/payload header removed, so
        // a client-sent x-user-id never reaches the upstream (issue 7, finding 2); with forward: false the token
        // goes too. All of it decided by the core.
        if (decision.Upstream is not { } upstream)
        {
            return response;
        }

        for (var i = 0; i < upstream.Set.Count; i++)
        {
            ok.Headers.Add(Overwrite(upstream.Set[i].Key, upstream.Set[i].Value));
        }

        for (var i = 0; i < upstream.Remove.Count; i++)
        {
            ok.HeadersToRemove.Add(upstream.Remove[i]);
        }

        for (var i = 0; i < upstream.TokenHeaders.Count; i++)
        {
            if (view.HasHeader(upstream.TokenHeaders[i]))
            {
                ok.HeadersToRemove.Add(upstream.TokenHeaders[i]);
            }
        }

        for (var i = 0; i < upstream.TokenParameters.Count; i++)
        {
            ok.QueryParametersToRemove.Add(upstream.TokenParameters[i]);
        }

        if (decision.Token is { Claims: var verified } token && decision.Provider is not null)
        {
            var identity = ToValue(verified);
            var metadata = new Struct();
            if (token.ApiKeyId is { } keyId)
            {
                // An API key's claims as a token's, under their own name: an upstream must not take a key for a JWT.
                identity.StructValue.Fields["id"] = Value.ForString(keyId);
                identity.StructValue.Fields["set"] = Value.ForString(decision.Provider);
                metadata.Fields["api_key"] = identity;
            }
            else
            {
                identity.StructValue.Fields["provider"] = Value.ForString(decision.Provider);
                metadata.Fields["jwt"] = identity;
            }

            if (decision.Route is not null)
            {
                metadata.Fields["route"] = Value.ForString(decision.Route);
            }

            if (decision.Service is not null)
            {
                metadata.Fields["service"] = Value.ForString(decision.Service.Name);
            }

            response.DynamicMetadata = metadata;
        }

        return response;
    }

    /// <summary>The name of the header that tells the upstream what a dry run would have answered.</summary>
    public const string DryRunHeader = AuthorizationServiceAdapter.DryRunHeader;

    /// <summary>
    /// An allow that reports something per call: the RateLimit headers of a charged limit (to the client, in
    /// <c>response_headers_to_add</c>: the kept allow's bytes extended, not encoded again), and in dry run what
    /// would have been answered (to the upstream in <see cref="DryRunHeader"/>, and as <c>dry_run</c> in the metadata).
    /// </summary>
    public CheckAnswer WithReport(in AuthDecision decision, CheckRequestView view)
    {
        if (decision.DryRun is null)
        {
            return LimitHeaderEncoder.Extend(For(decision, view).Result, decision.Limit!.Value);
        }

        var response = Create(decision, view);
        response.OkResponse.Headers.Add(Overwrite(DryRunHeader, HeaderSafe(decision.DryRun)));
        var metadata = response.DynamicMetadata ?? new Struct();
        metadata.Fields["dry_run"] = Value.ForString(decision.DryRun);
        if (decision.Service is not null)
        {
            metadata.Fields["service"] = Value.ForString(decision.Service.Name);
        }

        if (decision.Route is not null)
        {
            metadata.Fields["route"] = Value.ForString(decision.Route);
        }

        response.DynamicMetadata = metadata;
        if (decision.Limit is { } limit)
        {
            AddLimitHeaders(response.OkResponse, limit);
        }

        return new CheckAnswer(response);
    }

    private static void AddLimitHeaders(OkHttpResponse ok, in LimitReport limit)
    {
        foreach (var (name, value) in RateLimiting.RateLimitHeaderText.For(limit))
        {
            ok.ResponseHeadersToAdd.Add(Overwrite(name, value));
        }
    }

    /// <summary>A reason as a header value: printable ASCII only (a reason may quote a claim or a path).</summary>
    private static string HeaderSafe(string text) =>
        text.AsSpan().ContainsAnyExceptInRange(' ', '~') ? string.Concat(text.Where(c => c is >= ' ' and <= '~')) : text;

    internal static HeaderValueOption Overwrite(string name, string value) => new()
    {
        Header = new HeaderValue { Key = name, Value = value },
        AppendAction = HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd,
    };

    private static Value ToValue(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                var fields = new Struct();
                foreach (var property in element.EnumerateObject())
                {
                    fields.Fields[property.Name] = ToValue(property.Value);
                }

                return Value.ForStruct(fields);
            case JsonValueKind.Array:
                var list = new ListValue();
                foreach (var item in element.EnumerateArray())
                {
                    list.Values.Add(ToValue(item));
                }

                return new Value { ListValue = list };
            case JsonValueKind.String:
                return Value.ForString(element.GetString()!);
            case JsonValueKind.Number:
                // The validator admits only numbers within double range (I-JSON); the fallback keeps this total anyway.
                return element.TryGetDouble(out var number) ? Value.ForNumber(number) : Value.ForString(element.GetRawText());
            case JsonValueKind.True:
                return Value.ForBool(true);
            case JsonValueKind.False:
                return Value.ForBool(false);
            default:
                return Value.ForNull();
        }
    }

}

/// <summary>
/// What a kept allow answer was built for; immutable, replaced whole with its answer. The core's
/// <see cref="UpstreamHeaders"/> instance stands for (policy snapshot, provider, token): a reload builds new ones.
/// Without a token the response names no route or provider (no metadata), so any route fits.
/// </summary>
internal readonly record struct AllowFit(UpstreamHeaders? Upstream, string? Route, string? Provider, ulong PresentTokenHeaders, bool Kept, ServiceRoute? ServiceRoute = null)
{
    public bool Fits(in AuthDecision decision, ulong present) =>
        Kept && ReferenceEquals(Upstream, decision.Upstream) && present == PresentTokenHeaders &&
        (decision.Token is null || (string.Equals(Route, decision.Route, StringComparison.Ordinal) && string.Equals(Provider, decision.Provider, StringComparison.Ordinal) &&
                                    ReferenceEquals(ServiceRoute, decision.ServiceRoute)));
}
