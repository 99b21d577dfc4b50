using Sidecars.Authorization.Services;
using Sidecars.Config;
using Sidecars.RateLimiting;

namespace Sidecars.Authorization.Config;

/// <summary>Cross-file compile of the service files: unique names, owned spaces that do not overlap, routes inside them, references resolved.</summary>
internal static partial class AuthYamlParser
{
    /// <summary>
    /// Every error is located; an ownership conflict is reported at both entries, each naming the other, so
    /// that either file's owner sees it (and the reloader can keep the last good version of both).
    /// </summary>
    public static ServiceCatalog CompileServices(IReadOnlyList<ServiceDefinition> files, IReadOnlyDictionary<string, ProviderPolicy> providers, ConfigDiagnostics diagnostics)
    {
        if (files.Count == 0)
        {
            return ServiceCatalog.Empty;
        }

        var services = new List<ServicePolicy>();
        var byName = new Dictionary<string, ServiceDefinition>(StringComparer.Ordinal);
        var spaces = new List<(OwnedSpace Space, string File, YamlDotNet.RepresentationModel.YamlNode Node)>();
        var routeCount = 0;
        foreach (var file in files)
        {
            if (byName.TryGetValue(file.Name, out var first))
            {
                diagnostics.Add(file.File, file.Node, $"service '{file.Name}' is already defined in {first.File}:{first.Node.Start.Line}:{first.Node.Start.Column}");
                continue;
            }

            byName[file.Name] = file;
            var owns = file.Owns.Select(o => new OwnedSpace(o.Host, o.Prefix, $"{file.File}:{o.Node.Start.Line}:{o.Node.Start.Column}")).ToArray();
            var service = new ServicePolicy(file.Name, file.File, file.Mode, owns, file.ApiKeys.ToDictionary(k => k.Set.Name, k => k.Set, StringComparer.Ordinal));
            for (var i = 0; i < owns.Length; i++)
            {
                owns[i].Service = service;
                spaces.Add((owns[i], file.File, file.Owns[i].Node));
            }

            var routes = new List<AuthRoute>();
            foreach (var route in file.Routes)
            {
                if (++routeCount > ConfigLimits.MaxServiceRoutes)
                {
                    diagnostics.Add(file.File, route.Node, $"config refused: more than {ConfigLimits.MaxServiceRoutes} service routes");
                    break;
                }

                if (CompileServiceRoute(file, service, route, providers, diagnostics) is { } compiled)
                {
                    routes.Add(compiled);
                }
            }

            service.Routes = routes;
            services.Add(service);
        }

        CheckOverlaps(spaces, diagnostics);
        return new ServiceCatalog(services);
    }

    private static void CheckOverlaps(List<(OwnedSpace Space, string File, YamlDotNet.RepresentationModel.YamlNode Node)> spaces, ConfigDiagnostics diagnostics)
    {
        foreach (var group in spaces.GroupBy(s => s.Space.Host, StringComparer.Ordinal))
        {
            var same = group.ToArray();
            for (var i = 0; i < same.Length; i++)
            {
                for (var j = i + 1; j < same.Length; j++)
                {
                    var (a, fileA, nodeA) = same[i];
                    var (b, fileB, nodeB) = same[j];
                    if (!a.Overlaps(b))
                    {
                        continue;
                    }

                    diagnostics.Add(fileA, nodeA, $"service '{a.Service.Name}' owns {a}, which overlaps {b} owned by service '{b.Service.Name}' at {b.Location}");
                    diagnostics.Add(fileB, nodeB, $"service '{b.Service.Name}' owns {b}, which overlaps {a} owned by service '{a.Service.Name}' at {a.Location}");
                }
            }
        }
    }

    private static AuthRoute? CompileServiceRoute(ServiceDefinition file, ServicePolicy service, ServiceRouteDefinition route, IReadOnlyDictionary<string, ProviderPolicy> providers, ConfigDiagnostics diagnostics)
    {
        var ok = true;
        foreach (var missing in Referenced(route.Requires).Where(p => !providers.ContainsKey(p)).Distinct())
        {
            diagnostics.Add(file.File, route.Node, $"route '{route.Name}' of service '{service.Name}' requires unknown provider '{ConfigText.Shown(missing)}'");
            ok = false;
        }

        var requires = ResolveApiKeys(route.Requires, service, file, route, diagnostics, ref ok);
        if (!Inside(route.Match, service.Owns))
        {
            var where = route.Match.Host is null ? string.Empty : route.Match.Host;
            var path = route.Match.PathExact ?? route.Match.PathPrefix;
            diagnostics.Add(file.File, route.Node, $"route '{route.Name}' matches {where}{path ?? " (any path)"}, outside what service '{service.Name}' owns ({string.Join(", ", service.Owns)})");
            ok = false;
        }

        foreach (var limit in route.Limits.Where(l => l.Parts.Any(p => p.Kind == LimitPartKind.ApiKey) && !UsesApiKey(requires)))
        {
            diagnostics.Add(file.File, limit.Node, $"rate limit '{limit.Name}' is keyed by 'api_key', but route '{route.Name}' does not require one");
            ok = false;
        }

        if (!ok)
        {
            return null;
        }

        var mode = route.Mode ?? service.Mode;
        var limits = route.Limits.Select(l =>
        {
            var limit = new CompiledLimit(l.Unit, l.RequestsPerUnit, l.Algorithm, l.Burst, l.Name, fullKey: $"{service.Name}.{route.Name}.{l.Name}");

            // A rate limit service key is domain|key=value...#suffix: its first '#' follows a '|'. Here the '#' comes
            // first (names hold no separator), so no descriptor of any domain can reach a service's bucket. The
            // suffix (algorithm and unit) starts a fresh bucket when a reload changes them, as it does for descriptors.
            return new ServiceLimit(limit, l.Parts, $"service:{service.Name}#{route.Name}:{l.Name}:{limit.KeySuffix}", mode == PolicyMode.DryRun);
        }).ToArray();
        var reasons = route.Rules.Select((r, i) => $"rule {i + 1} of route '{route.Name}' failed: {r.Text}").ToArray();
        var serviceRoute = new ServiceRoute(service, route.Name, route.Rules, reasons, limits, mode);
        return new AuthRoute(route.Name, route.Match, WithAudiences(requires, providers)) { Service = serviceRoute };
    }

    /// <summary>
    /// Whether some owned space admits the route: the route's host (if any) is the space's, and its exact path or
    /// prefix (if any) lies under the space's prefix. A <c>path_regex</c> is matched only inside the owned space.
    /// </summary>
    private static bool Inside(RouteMatch match, IReadOnlyList<OwnedSpace> owns)
    {
        var path = match.PathExact ?? match.PathPrefix;
        foreach (var space in owns)
        {
            if (match.Host is not null && !string.Equals(match.Host, space.Host, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (space.PathPrefix is null || path is null || path.StartsWith(space.PathPrefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static Requirement ResolveApiKeys(Requirement requirement, ServicePolicy service, ServiceDefinition file, ServiceRouteDefinition route, ConfigDiagnostics diagnostics, ref bool ok)
    {
        switch (requirement)
        {
            case ApiKeyRequirement key:
                if (service.ApiKeys.TryGetValue(key.Name, out var set))
                {
                    return key with { Set = set };
                }

                diagnostics.Add(file.File, route.Node, $"route '{route.Name}' requires unknown API key set '{ConfigText.Shown(key.Name)}' (defined: {(service.ApiKeys.Count == 0 ? "none" : string.Join(", ", service.ApiKeys.Keys))})");
                ok = false;
                return key;
            case AnyRequirement any:
                var options = new Requirement[any.Options.Count];
                for (var i = 0; i < options.Length; i++)
                {
                    options[i] = ResolveApiKeys(any.Options[i], service, file, route, diagnostics, ref ok);
                }

                return new AnyRequirement(options);
            case AllRequirement all:
                var parts = new Requirement[all.Parts.Count];
                for (var i = 0; i < parts.Length; i++)
                {
                    parts[i] = ResolveApiKeys(all.Parts[i], service, file, route, diagnostics, ref ok);
                }

                return new AllRequirement(parts);
            default:
                return requirement;
        }
    }

    private static bool UsesApiKey(Requirement requirement) => requirement switch
    {
        ApiKeyRequirement => true,
        AnyRequirement any => any.Options.Any(UsesApiKey),
        AllRequirement all => all.Parts.Any(UsesApiKey),
        _ => false,
    };
}
