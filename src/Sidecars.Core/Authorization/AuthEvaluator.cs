using System.Text.Json;
using Sidecars.Authentication;

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
}

/// <summary>
/// The outcome: allowed (with the token that allowed it, if any), or denied with the HTTP status Envoy
/// should answer — 401 for a missing or invalid token, 403 for a valid token that does not grant the request
/// or a route that denies, 400 for a request whose path or host cannot be matched safely — and the RFC 6750 error code and description for <c>WWW-Authenticate</c>.
/// </summary>
/// <remarks><see cref="Upstream"/> is set on an allow by <see cref="UpstreamShaping.Complete"/>: the headers the upstream receives.</remarks>
public readonly record struct AuthDecision(bool Allowed, int Status, string? Error, string Description, string? Route, string? Provider, ValidatedToken? Token, UpstreamHeaders? Upstream = null)
{
    public static AuthDecision Allow(string? route, string? provider = null, ValidatedToken? token = null) => new(true, 200, null, "allowed", route, provider, token);

    public static AuthDecision Unauthenticated(string? route, string? provider, string description, bool tokenPresent) =>
        new(false, 401, tokenPresent ? "invalid_token" : null, description, route, provider, null);

    public static AuthDecision Forbidden(string? route, string? provider, string description, string? error = "insufficient_scope") =>
        new(false, 403, error, description, route, provider, null);

    /// <summary>A request refused before any route is chosen (malformed or ambiguous path or host), as Envoy answers its own path checks: 400.</summary>
    public static AuthDecision BadRequest(string description) => new(false, 400, null, description, null, null, null);
}

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

    public static AuthDecision Decide(IReadOnlyList<AuthRoute> routes, bool defaultAllow, IRequestView request, ITokenSource tokens)
    {
        if (!RouteRequest.TryCreate(request, out var facts, out var rejection))
        {
            return AuthDecision.BadRequest(rejection!);
        }

        var chosen = FirstMatch(routes, facts, facts.Path.Value.Span, ignoreCase: false, routes.Count);
        if (Ambiguity(routes, defaultAllow, facts, chosen) is { } ambiguity)
        {
            return AuthDecision.BadRequest(ambiguity);
        }

        if (chosen >= 0)
        {
            return Evaluate(routes[chosen].Requires, routes[chosen].Name, tokens);
        }

        return defaultAllow ? AuthDecision.Allow(null) : AuthDecision.Forbidden(null, null, "no route matches this request", error: null);
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

    /// <summary>Why another reading of the path would be decided differently, or null when every reading gets the same requirement.</summary>
    private static string? Ambiguity(IReadOnlyList<AuthRoute> routes, bool defaultAllow, in RouteRequest request, int chosen)
    {
        var path = request.Path;
        if (FoldedCase(routes, defaultAllow, request, path.Value.Span, chosen, chosen))
        {
            return CaseAmbiguity;
        }

        foreach (var (reading, kind) in path.Readings)
        {
            var match = FirstMatch(routes, request, reading, ignoreCase: false, routes.Count);
            if (!SameRequirement(routes, defaultAllow, chosen, match) || FoldedCase(routes, defaultAllow, request, reading, match, chosen))
            {
                return (kind & PathReading.Lenient) != 0 ? LenientAmbiguity : LiteralAmbiguity;
            }
        }

        return null;
    }

    /// <summary>
    /// Whether a route before <paramref name="match"/> (the reading's case-sensitive first match) matches the
    /// reading when letter case is ignored, with another requirement than the chosen route's. A case-sensitive
    /// match is also a case-insensitive one, so routes after <paramref name="match"/> cannot come first.
    /// </summary>
    private static bool FoldedCase(IReadOnlyList<AuthRoute> routes, bool defaultAllow, in RouteRequest request, ReadOnlySpan<char> reading, int match, int chosen)
    {
        var folded = FirstMatch(routes, request, reading, ignoreCase: true, match < 0 ? routes.Count : match);
        return folded >= 0 && !SameRequirement(routes, defaultAllow, chosen, folded);
    }

    private static bool SameRequirement(IReadOnlyList<AuthRoute> routes, bool defaultAllow, int first, int second)
    {
        if (first == second)
        {
            return true;
        }

        var a = first < 0 ? (defaultAllow ? Requirement.Allow : Requirement.Deny) : routes[first].Requires;
        var b = second < 0 ? (defaultAllow ? Requirement.Allow : Requirement.Deny) : routes[second].Requires;
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
