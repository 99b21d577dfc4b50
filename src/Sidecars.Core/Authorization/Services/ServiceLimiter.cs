using System.Text.Json;
using Sidecars.RateLimiting;

namespace Sidecars.Authorization.Services;

/// <summary>
/// Charges a service route's <c>rate_limits</c> inside <c>Check</c>, with the store and bucket math of the rate
/// limit service: one batch per request, all-or-nothing across the route's limits. A limit whose key part has no
/// value in the request (no such claim, header or address) does not apply to it.
/// </summary>
/// <remarks>
/// Bucket keys are <c>service:NAME#route:limit:suffix|value|value...</c> (in the domain <c>service:NAME</c>, for the
/// store's failure policy), values escaped so that two requests can share a bucket only when every value is equal. The batch is built before the store is asked, so
/// nothing of the request is read after an asynchronous store (Redis) answers.
/// </remarks>
public sealed class ServiceLimiter(IBucketStore store)
{
    private const char Separator = '|';
    private const char Escape = '\\';

    [ThreadStatic]
    private static BucketBatch? t_batch;

    /// <summary>A batch for one request; give it back with <see cref="Return"/> once its answer is read.</summary>
    public static BucketBatch Rent()
    {
        var batch = t_batch ?? new BucketBatch();
        t_batch = null;
        return batch;
    }

    public static void Return(BucketBatch batch)
    {
        batch.Clear();
        t_batch = batch;
    }

    /// <summary>Adds one operation per applicable limit of the decision's route; false when none applies.</summary>
    public static bool Build(in AuthDecision decision, IRequestView request, BucketBatch batch)
    {
        batch.Clear();
        if (decision.ServiceRoute is not { Limits.Count: > 0 } route)
        {
            return false;
        }

        batch.Domain = route.Service.Domain;
        var claims = decision.Token?.Claims ?? default(JsonElement);
        for (var i = 0; i < route.Limits.Count; i++)
        {
            var limit = route.Limits[i];
            if (!Applies(limit, decision, request, claims))
            {
                continue;
            }

            ref var op = ref batch.Add(limit.Limit, i, hits: 1, enforced: !limit.DryRun);
            Append(batch, limit.KeyPrefix, escape: false);
            for (var p = 0; p < limit.Parts.Count; p++)
            {
                Append(batch, [Separator], escape: false);
                Append(batch, Value(limit.Parts[p], decision, request, claims), escape: true);
            }
        }

        return batch.Count > 0;
    }

    public ValueTask<bool> ApplyAsync(BucketBatch batch, CancellationToken cancellationToken = default) => store.ApplyAsync(batch, cancellationToken);

    /// <summary>
    /// The decision once the store has answered: 429 with the exceeded limit, or the allow with the most restrictive
    /// limit to report (least remaining). An exceeded limit in dry run leaves the allow and reports the would-be 429.
    /// </summary>
    public static AuthDecision Finish(in AuthDecision decision, BucketBatch batch)
    {
        LimitReport? reported = null;
        LimitReport? exceeded = null;
        LimitReport? shadowExceeded = null;
        foreach (ref readonly var op in batch.Operations)
        {
            var report = new LimitReport(op.Limit, op.OverLimit ? 0 : op.Remaining, op.ResetAfterNanos);
            if (op.OverLimit)
            {
                if (op.Enforced)
                {
                    exceeded ??= report;
                }
                else
                {
                    shadowExceeded ??= report;
                }
            }

            if (reported is null || report.Remaining < reported.Value.Remaining)
            {
                reported = report;
            }
        }

        if (exceeded is { } over)
        {
            return AuthDecision.TooManyRequests(decision, over);
        }

        if (shadowExceeded is { } shadow)
        {
            var wouldBe = AuthDecision.TooManyRequests(decision, shadow);
            return decision with { DryRun = $"429 {wouldBe.Description}", Limit = shadow };
        }

        return reported is null ? decision : decision with { Limit = reported };
    }

    /// <summary>The bucket key parts of <paramref name="limit"/> for this request (<c>claim:sub=alice</c>), or null when a part has no value; for <c>sidecars explain</c>.</summary>
    public static string? Describe(ServiceLimit limit, in AuthDecision decision, IRequestView request)
    {
        var claims = decision.Token?.Claims ?? default(JsonElement);
        if (!Applies(limit, decision, request, claims))
        {
            return null;
        }

        var parts = new string[limit.Parts.Count];
        for (var p = 0; p < parts.Length; p++)
        {
            parts[p] = $"{limit.Parts[p]}={Value(limit.Parts[p], decision, request, claims)}";
        }

        return string.Join(", ", parts);
    }

    private static bool Applies(ServiceLimit limit, in AuthDecision decision, IRequestView request, JsonElement claims)
    {
        for (var p = 0; p < limit.Parts.Count; p++)
        {
            if (!HasValue(limit.Parts[p], decision, request, claims))
            {
                return false;
            }
        }

        return true;
    }

    private static bool HasValue(LimitPart part, in AuthDecision decision, IRequestView request, JsonElement claims) => part.Kind switch
    {
        LimitPartKind.Claim => ClaimValue(claims, part.Name!, out _),
        LimitPartKind.Header => request.TryHeader(part.Name!, out var header) && header.Length > 0,
        LimitPartKind.SourceIp => request.TrySourceAddress(out var address) && address.Length > 0,
        LimitPartKind.ApiKey => decision.Token?.ApiKeyId is not null,
        _ => true,
    };

    private static ReadOnlySpan<char> Value(LimitPart part, in AuthDecision decision, IRequestView request, JsonElement claims)
    {
        switch (part.Kind)
        {
            case LimitPartKind.Claim:
                ClaimValue(claims, part.Name!, out var claim);
                return claim;
            case LimitPartKind.Header:
                request.TryHeader(part.Name!, out var header);
                return header;
            case LimitPartKind.SourceIp:
                request.TrySourceAddress(out var address);
                return address;
            case LimitPartKind.ApiKey:
                return decision.Token!.ApiKeyId;
            case LimitPartKind.Route:
                return decision.ServiceRoute!.Name;
            default:
                return decision.Service!.Name;
        }
    }

    /// <summary>A string, number or boolean claim as its text; an array, object or null claim has no value for a key.</summary>
    private static bool ClaimValue(JsonElement claims, string name, out ReadOnlySpan<char> value)
    {
        value = default;
        if (claims.ValueKind != JsonValueKind.Object || !claims.TryGetProperty(name, out var claim))
        {
            return false;
        }

        switch (claim.ValueKind)
        {
            case JsonValueKind.String:
                value = ClaimText.Of(claim);
                return value.Length > 0;
            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False:
                value = ClaimText.Of(claim);
                return true;
            default:
                return false;
        }
    }

    private static void Append(BucketBatch batch, ReadOnlySpan<char> text, bool escape)
    {
        var room = batch.ReserveKey(escape ? text.Length * 2 : text.Length);
        if (!escape)
        {
            text.CopyTo(room);
            batch.CommitKey(text.Length);
            return;
        }

        var written = 0;
        foreach (var c in text)
        {
            if (c is Separator or Escape)
            {
                room[written++] = Escape;
            }

            room[written++] = c;
        }

        batch.CommitKey(written);
    }
}
