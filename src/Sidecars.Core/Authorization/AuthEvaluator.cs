using System.Buffers;
using System.Text.Json;
using Sidecars.Authentication;
using Sidecars.Authorization.Config;
using Sidecars.Authorization.Services;

namespace Sidecars.Authorization;

public enum TokenState
{
    /// <summary>The request carries no token for the provider.</summary>
    Missing,
    Valid,
    Invalid,
}

/// <summary>A provider's token for this request: absent, verified, or refused with the reason.</summary>
public readonly record struct ProviderToken(TokenState State, ValidatedToken? Token = null, JwtFailure Failure = default)
{
    public static ProviderToken Missing => new(TokenState.Missing);
}

/// <summary>Extracts and validates a provider's token for the request being decided (and caches it).</summary>
public interface ITokenSource
{
    ProviderToken For(string provider);

    /// <summary>The request's key for <paramref name="set"/>: absent, known (its identity), or unknown.</summary>
    ProviderToken ForApiKey(ApiKeySet set) => ProviderToken.Missing;
}

/// <summary>
/// The outcome: allowed (with the token that allowed it, if any), or denied with the HTTP status Envoy
/// should answer — 401 for a missing or invalid token, 403 for a valid token that does not grant the request
/// or a route that denies, 400 for a request whose path or host cannot be matched safely — and the RFC 6750 error code and description for <c>WWW-Authenticate</c>.
/// </summary>
/// <remarks><see cref="Upstream"/> is set on an allow by <see cref="UpstreamShaping.Complete"/>: the headers the upstream receives.</remarks>
public readonly record struct AuthDecision(bool Allowed, int Status, string? Error, string Description, string? Route, string? Provider, ValidatedToken? Token, UpstreamHeaders? Upstream = null)
{
    /// <summary>The service that owns the request, when one does.</summary>
    public ServicePolicy? Service { get; init; }

    /// <summary>The service route that decided, when one did: its limits and mode apply after this decision.</summary>
    public ServiceRoute? ServiceRoute { get; init; }

    /// <summary>On an allow in dry run: what would have been answered (<c>403 rule 1 of route 'read' failed: ...</c>).</summary>
    public string? DryRun { get; init; }

    /// <summary>The limit reported in the RateLimit headers (the most restrictive one charged), and on a 429 the one exceeded.</summary>
    public LimitReport? Limit { get; init; }

    /// <summary>A request over a service route's limit: 429.</summary>
    public static AuthDecision TooManyRequests(in AuthDecision allowed, LimitReport limit) =>
        new(false, 429, null, $"rate limit '{limit.Limit.Name}' of route '{allowed.Route}' exceeded", allowed.Route, allowed.Provider, allowed.Token)
        {
            Service = allowed.Service,
            ServiceRoute = allowed.ServiceRoute,
            Limit = limit,
        };

    public static AuthDecision Allow(string? route, string? provider = null, ValidatedToken? token = null) => new(true, 200, null, "allowed", route, provider, token);

    public static AuthDecision Unauthenticated(string? route, string? provider, string description, bool tokenPresent) =>
        new(false, 401, tokenPresent ? "invalid_token" : null, description, route, provider, null);

    public static AuthDecision Forbidden(string? route, string? provider, string description, string? error = "insufficient_scope") =>
        new(false, 403, error, description, route, provider, null);

    /// <summary>A request refused before any route is chosen (malformed or ambiguous path or host), as Envoy answers its own path checks: 400.</summary>
    public static AuthDecision BadRequest(string description) => new(false, 400, null, description, null, null, null);
}

/// <summary>A limit as the RateLimit headers report it: the limit, what remains, and when it resets (on a 429, when to retry).</summary>
public readonly record struct LimitReport(RateLimiting.CompiledLimit Limit, uint Remaining, long ResetAfterNanos);

/// <summary>
/// First matching route decides; its requirement is evaluated against the request's tokens. The request is
/// read once (<see cref="RouteRequest"/>): a malformed path or host is refused with 400, and so is a path whose
/// other readings — dot segments kept, <c>%2F</c> decoded or <c>;</c> parameters dropped, letter case ignored —
/// would select a route with a different requirement, since the upstream might read it that way.
/// </summary>
public static class AuthEvaluator
{
    private const string LiteralAmbiguity = "path is ambiguous: its dot segments or repeated slashes change which route matches";
    private const string LenientAmbiguity = "path is ambiguous: an encoded slash or a ';' parameter changes which route matches";
    private const string CaseAmbiguity = "path is ambiguous: it matches another route when letter case is ignored";

    /// <summary>Decides with a snapshot's policy: the service that owns the request first, then the shared routes, then the default.</summary>
    public static AuthDecision Decide(AuthPolicy policy, IRequestView request, ITokenSource tokens) =>
        Decide(new RouteSet(policy.Routes, policy.DefaultAllow, policy.Services.Owners, policy.PatternsFold), request, tokens);

    public static AuthDecision Decide(IReadOnlyList<AuthRoute> routes, bool defaultAllow, IRequestView request, ITokenSource tokens) =>
        Decide(new RouteSet(routes, defaultAllow, OwnerIndex.Empty, PatternsFold: true), request, tokens);

    private static AuthDecision Decide(in RouteSet set, IRequestView request, ITokenSource tokens)
    {
        if (!RouteRequest.TryCreate(request, out var facts, out var rejection))
        {
            return AuthDecision.BadRequest(rejection!);
        }

        var chosen = Select(set, facts, facts.Path.Value.Span, ignoreCase: false);
        if (Ambiguity(set, facts, chosen) is { } ambiguity)
        {
            return AuthDecision.BadRequest(ambiguity);
        }

        if (chosen.Owner is { } owner)
        {
            return chosen.Route is { } serviceRoute
                ? ServiceEvaluator.Evaluate(serviceRoute, facts, tokens)
                : AuthDecision.Forbidden(null, null, owner.Service.NoRouteReason, error: null) with { Service = owner.Service };
        }

        if (chosen.Route is { } route)
        {
            return Evaluate(route.Requires, route.Name, tokens);
        }

        return set.DefaultAllow ? AuthDecision.Allow(null) : AuthDecision.Forbidden(null, null, "no route matches this request", error: null);
    }

    /// <summary>
    /// The routes a decision picks from: a service's when one owns the request, else the shared ones in order.
    /// <see cref="PatternsFold"/>: some path pattern or owned prefix holds a character that letter case folding changes
    /// (see <see cref="AuthPolicy.PatternsFold"/>).
    /// </summary>
    private readonly record struct RouteSet(IReadOnlyList<AuthRoute> Routes, bool DefaultAllow, OwnerIndex Owners, bool PatternsFold);

    /// <summary>What one reading of the request selects: a route (shared or of the owner), and the owner if a service owns it.</summary>
    private readonly record struct Selection(AuthRoute? Route, OwnedSpace? Owner);

    private static Selection Select(in RouteSet set, in RouteRequest request, ReadOnlySpan<char> path, bool ignoreCase)
    {
        if (set.Owners.Find(request.Host.Span, path, ignoreCase) is { } owner)
        {
            var routes = owner.Service.Routes;
            for (var i = 0; i < routes.Count; i++)
            {
                if (routes[i].Match.Matches(request, path, ignoreCase))
                {
                    return new Selection(routes[i], owner);
                }
            }

            return new Selection(null, owner);
        }

        var first = FirstMatch(set.Routes, request, path, ignoreCase, set.Routes.Count);
        return new Selection(first < 0 ? null : set.Routes[first], null);
    }

    private static int FirstMatch(IReadOnlyList<AuthRoute> routes, in RouteRequest request, ReadOnlySpan<char> path, bool ignoreCase, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (routes[i].Match.Matches(request, path, ignoreCase))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Why another reading of the path would be decided differently, or null when every reading gets the same
    /// requirement. Each reading is selected as written and with letter case ignored: a case-sensitive match is also
    /// a case-insensitive one, so the case-insensitive selection differs only when an earlier route (or a more
    /// specific owner) matches once case is ignored.
    /// </summary>
    private static string? Ambiguity(in RouteSet set, in RouteRequest request, Selection chosen)
    {
        var path = request.Path;
        if (MayFold(set, path.Value.Span) && !Same(set, chosen, Select(set, request, path.Value.Span, ignoreCase: true)))
        {
            return CaseAmbiguity;
        }

        foreach (var (reading, kind) in path.Readings)
        {
            if (!Same(set, chosen, Select(set, request, reading, ignoreCase: false)) ||
                (MayFold(set, reading) && !Same(set, chosen, Select(set, request, reading, ignoreCase: true))))
            {
                return (kind & PathReading.Lenient) != 0 ? LenientAmbiguity : LiteralAmbiguity;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether ignoring letter case can select anything else for this reading. When neither the reading nor any path
    /// pattern or owned prefix holds an uppercase ASCII letter or a non-ASCII character, comparing them ignoring case is
    /// comparing them as written (only A-Z fold in ASCII), so the second selection would repeat the first: skipped
    /// (issue 9: it was a fourth of a service route's selection time). Hosts compare ignoring case in both.
    /// </summary>
    private static bool MayFold(in RouteSet set, ReadOnlySpan<char> reading) => set.PatternsFold || reading.ContainsAnyExcept(Unfoldable);

    /// <summary>ASCII but A-Z: what case folding leaves as it is. (SearchValues: the generic range methods allocated here.)</summary>
    internal static readonly SearchValues<char> Unfoldable = SearchValues.Create([.. Enumerable.Range(0, 128).Where(c => c is < 'A' or > 'Z').Select(c => (char)c)]);

    /// <summary>Shared routes are the same when their requirements are equal; a service's route only when it is the very route of the same owner.</summary>
    private static bool Same(in RouteSet set, Selection first, Selection second)
    {
        if (ReferenceEquals(first.Route, second.Route) && ReferenceEquals(first.Owner?.Service, second.Owner?.Service))
        {
            return true;
        }

        if (first.Owner is not null || second.Owner is not null)
        {
            return false;
        }

        var a = first.Route?.Requires ?? (set.DefaultAllow ? Requirement.Allow : Requirement.Deny);
        var b = second.Route?.Requires ?? (set.DefaultAllow ? Requirement.Allow : Requirement.Deny);
        return a.Equals(b);
    }

    public static AuthDecision Evaluate(Requirement requirement, string route, ITokenSource tokens)
    {
        switch (requirement)
        {
            case AllowRequirement:
                return AuthDecision.Allow(route);
            case DenyRequirement:
                return AuthDecision.Forbidden(route, null, "the route denies every request", error: null);
            case ProviderRequirement provider:
                return EvaluateProvider(provider, route, tokens);
            case ApiKeyRequirement { Set: { } set }:
                return EvaluateApiKey(set, route, tokens);
            case AnyRequirement any:
                // Allowed by any option; otherwise the most telling refusal: a token that was there beats one that was not.
                AuthDecision? best = null;
                for (var i = 0; i < any.Options.Count; i++)
                {
                    var decision = Evaluate(any.Options[i], route, tokens);
                    if (decision.Allowed)
                    {
                        return decision;
                    }

                    if (best is null || (best.Value.Error is null && decision.Error is not null))
                    {
                        best = decision;
                    }
                }

                return best ?? AuthDecision.Forbidden(route, null, "no requirement option", error: null);
            case AllRequirement all:
                AuthDecision? allowed = null;
                for (var i = 0; i < all.Parts.Count; i++)
                {
                    var decision = Evaluate(all.Parts[i], route, tokens);
                    if (!decision.Allowed)
                    {
                        return decision;
                    }

                    allowed ??= decision.Token is null ? null : decision;
                }

                return allowed ?? AuthDecision.Allow(route);
            default:
                return AuthDecision.Forbidden(route, null, "unknown requirement", error: null);
        }
    }

    private static AuthDecision EvaluateApiKey(ApiKeySet set, string route, ITokenSource tokens)
    {
        var key = tokens.ForApiKey(set);
        return key.State switch
        {
            TokenState.Valid => AuthDecision.Allow(route, set.QualifiedName, key.Token),
            TokenState.Missing => AuthDecision.Unauthenticated(route, set.QualifiedName, "an API key is required", tokenPresent: false),
            _ => AuthDecision.Unauthenticated(route, set.QualifiedName, key.Failure.Description, tokenPresent: true),
        };
    }

    private static AuthDecision EvaluateProvider(ProviderRequirement requirement, string route, ITokenSource tokens)
    {
        var token = tokens.For(requirement.Provider);
        switch (token.State)
        {
            case TokenState.Missing:
                return requirement.AllowMissing
                    ? AuthDecision.Allow(route, requirement.Provider)
                    : AuthDecision.Unauthenticated(route, requirement.Provider, "a bearer token is required", tokenPresent: false);
            case TokenState.Invalid:
                return token.Failure.Kind == JwtFailureKind.InsufficientScope
                    ? AuthDecision.Forbidden(route, requirement.Provider, token.Failure.Description)
                    : AuthDecision.Unauthenticated(route, requirement.Provider, token.Failure.Description, tokenPresent: true);
        }

        var claims = token.Token!.Claims;
        if (requirement.Audiences is { Count: > 0 } audiences && !JwtValidator.HasAudience(claims, audiences))
        {
            return AuthDecision.Forbidden(route, requirement.Provider, "audience is not accepted");
        }

        if (requirement.Scopes is { } scopes)
        {
            for (var i = 0; i < scopes.Count; i++)
            {
                if (!token.Token.HasScope(scopes[i]))
                {
                    return AuthDecision.Forbidden(route, requirement.Provider, $"scope '{scopes[i]}' is required");
                }
            }
        }

        if (requirement.Claims is { } conditions)
        {
            for (var i = 0; i < conditions.Count; i++)
            {
                if (!HasClaim(claims, conditions[i]))
                {
                    return AuthDecision.Forbidden(route, requirement.Provider, $"claim '{conditions[i].Name}' does not have a required value");
                }
            }
        }

        return AuthDecision.Allow(route, requirement.Provider, token.Token);
    }

    private static bool HasClaim(JsonElement claims, ClaimCondition condition)
    {
        if (!claims.TryGetProperty(condition.Name, out var value))
        {
            return false;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return EqualsAny(value, condition.Values);
            case JsonValueKind.Array:
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String && EqualsAny(item, condition.Values))
                    {
                        return true;
                    }
                }

                return false;
            case JsonValueKind.True:
                return Contains(condition.Values, "true");
            case JsonValueKind.False:
                return Contains(condition.Values, "false");
            case JsonValueKind.Number:
                return Contains(condition.Values, value.GetRawText());
            default:
                return false;
        }
    }

    private static bool EqualsAny(JsonElement value, IReadOnlyList<string> candidates)
    {
        for (var i = 0; i < candidates.Count; i++)
        {
            if (value.ValueEquals(candidates[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Contains(IReadOnlyList<string> values, string value)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] == value)
            {
                return true;
            }
        }

        return false;
    }
}
