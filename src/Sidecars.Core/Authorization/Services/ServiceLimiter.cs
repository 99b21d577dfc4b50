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
        if (decision.ServiceRoute is not { LimitArray.Length: > 0 } route)
        {
            return false;
        }

        batch.Domain = route.Service.Domain;
        var claims = decision.Token?.Claims ?? default(JsonElement);
        var limits = route.LimitArray;
        for (var i = 0; i < limits.Length; i++)
        {
            // One pass per limit: each part is read once and written into the key; a part without a value drops the operation.
            var limit = limits[i];
            batch.Add(limit.Limit, i, hits: 1, enforced: !limit.DryRun);
            Append(batch, limit.KeyPrefix, escape: false);
            var applies = true;
            for (var p = 0; p < limit.PartArray.Length && applies; p++)
            {
                applies = TryValue(limit, p, decision, request, claims, out var value);
                if (applies)
                {
                    Append(batch, [Separator], escape: false);
                    Append(batch, value, escape: true);
                }
            }

            if (!applies)
            {
                batch.RemoveLast();
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
        var parts = new string[limit.Parts.Count];
        for (var p = 0; p < parts.Length; p++)
        {
            if (!TryValue(limit, p, decision, request, claims, out var value))
            {
                return null;
            }

            parts[p] = $"{limit.Parts[p]}={value}";
        }

        return string.Join(", ", parts);
    }

    /// <summary>The part's value in this request; false when it has none (the limit does not apply).</summary>
    private static bool TryValue(ServiceLimit limit, int index, in AuthDecision decision, IRequestView request, JsonElement claims, out ReadOnlySpan<char> value)
    {
        var part = limit.PartArray[index];
        switch (part.Kind)
        {
            case LimitPartKind.Claim:
                return ClaimValue(claims, limit.ClaimNames[index]!, out value);
            case LimitPartKind.Header:
                return request.TryHeader(part.Name!, out value) && value.Length > 0;
            case LimitPartKind.SourceIp:
                return request.TrySourceAddress(out value) && value.Length > 0;
            case LimitPartKind.ApiKey:
                value = decision.Token?.ApiKeyId;
                return decision.Token?.ApiKeyId is not null;
            case LimitPartKind.Route:
                value = decision.ServiceRoute!.Name;
                return true;
            default:
                value = decision.Service!.Name;
                return true;
        }
    }

    /// <summary>A string, number or boolean claim as its text; an array, object or null claim has no value for a key.</summary>
    private static bool ClaimValue(JsonElement claims, byte[] name, out ReadOnlySpan<char> value)
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
