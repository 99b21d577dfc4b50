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
/// or a route that denies — and the RFC 6750 error code and description for <c>WWW-Authenticate</c>.
/// </summary>
/// <remarks><see cref="Upstream"/> is set on an allow by <see cref="UpstreamShaping.Complete"/>: the headers the upstream receives.</remarks>
public readonly record struct AuthDecision(bool Allowed, int Status, string? Error, string Description, string? Route, string? Provider, ValidatedToken? Token, UpstreamHeaders? Upstream = null)
{
    public static AuthDecision Allow(string? route, string? provider = null, ValidatedToken? token = null) => new(true, 200, null, "allowed", route, provider, token);

    public static AuthDecision Unauthenticated(string? route, string? provider, string description, bool tokenPresent) =>
        new(false, 401, tokenPresent ? "invalid_token" : null, description, route, provider, null);

    public static AuthDecision Forbidden(string? route, string? provider, string description, string? error = "insufficient_scope") =>
        new(false, 403, error, description, route, provider, null);
}

/// <summary>First matching route decides; its requirement is evaluated against the request's tokens.</summary>
public static class AuthEvaluator
{
    public static AuthDecision Decide(IReadOnlyList<AuthRoute> routes, bool defaultAllow, IRequestView request, ITokenSource tokens)
    {
        for (var i = 0; i < routes.Count; i++)
        {
            if (routes[i].Match.Matches(request))
            {
                return Evaluate(routes[i].Requires, routes[i].Name, tokens);
            }
        }

        return defaultAllow ? AuthDecision.Allow(null) : AuthDecision.Forbidden(null, null, "no route matches this request", error: null);
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
                if (Array.IndexOf(token.Token.Scopes, scopes[i]) < 0)
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
