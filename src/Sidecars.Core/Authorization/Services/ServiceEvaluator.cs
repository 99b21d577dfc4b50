using System.Text.Json;

namespace Sidecars.Authorization.Services;

/// <summary>
/// A service route's decision, in the order the owner declared it: the requirement (a token or an API key), then
/// every rule against the request and the authenticated claims, then (by <see cref="ServiceLimiter"/>) the limits;
/// and last the mode, which turns a deny in dry run into an allow that reports it.
/// </summary>
public static class ServiceEvaluator
{
    public static AuthDecision Evaluate(AuthRoute route, in RouteRequest request, ITokenSource tokens)
    {
        var service = route.Service!;
        var decision = AuthEvaluator.Evaluate(route.Requires, route.Name, tokens) with { Service = service.Service, ServiceRoute = service };
        var rules = service.RuleArray;
        if (!decision.Allowed || rules.Length == 0)
        {
            return decision;
        }

        var input = new RuleInput(request.Request, request.Path.Value, decision.Token?.Claims ?? default(JsonElement));
        for (var i = 0; i < rules.Length; i++)
        {
            if (!rules[i].Holds(input))
            {
                // The identity stays with the deny: in dry run the allow still sends its verified claim headers.
                return AuthDecision.Forbidden(route.Name, decision.Provider, service.RuleReasons[i], error: null) with
                {
                    Token = decision.Token,
                    Service = service.Service,
                    ServiceRoute = service,
                };
            }
        }

        return decision;
    }

    /// <summary>
    /// In dry run (the route's mode, else its service's), a deny becomes an allow carrying what it would have been.
    /// A 400 is not the owner's to waive: the request could not be read safely, so no route decided it.
    /// </summary>
    public static AuthDecision ApplyMode(in AuthDecision decision)
    {
        if (decision.Allowed || decision.Status == 400 || decision.Service is not { } service)
        {
            return decision;
        }

        var dryRun = decision.ServiceRoute?.DryRun ?? service.Mode == PolicyMode.DryRun;
        if (!dryRun)
        {
            return decision;
        }

        return new AuthDecision(true, 200, null, "allowed in dry run", decision.Route, decision.Token is null ? null : decision.Provider, decision.Token)
        {
            Service = service,
            ServiceRoute = decision.ServiceRoute,
            DryRun = $"{decision.Status} {decision.Description}",
            Limit = decision.Limit,
        };
    }
}
