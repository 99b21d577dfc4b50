using Sidecars.Config;

namespace Sidecars.Authorization.Config;

/// <summary>Cross-file compile: joins every authorization file into one <see cref="AuthPolicy"/>.</summary>
internal static partial class AuthYamlParser
{
    /// <summary>
    /// Joins every file: routes in file-name order then declared order, provider names unique across files,
    /// every referenced provider defined, at most one file setting <c>default</c>.
    /// </summary>
    public static AuthPolicy Compile(IReadOnlyList<FileDefinition> files, ConfigDiagnostics diagnostics)
    {
        var providers = new Dictionary<string, ProviderPolicy>(StringComparer.Ordinal);
        var providerFiles = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in files)
        {
            foreach (var (policy, node) in file.Providers)
            {
                var name = policy.Provider.Name;
                if (providerFiles.TryGetValue(name, out var owner))
                {
                    diagnostics.Add(file.File, node, $"provider '{ConfigText.Shown(name)}' is already defined in {owner}");
                    continue;
                }

                if (providers.Count == ConfigLimits.MaxProviders)
                {
                    diagnostics.Add(file.File, node, $"config refused: more than {ConfigLimits.MaxProviders} providers");
                    break;
                }

                providers[name] = policy;
                providerFiles[name] = file.File;
            }
        }

        var routes = new List<AuthRoute>();
        bool? defaultAllow = null;
        string? defaultFile = null;
        foreach (var file in files)
        {
            foreach (var (route, node) in file.Routes)
            {
                foreach (var missing in Referenced(route.Requires).Where(p => !providers.ContainsKey(p)).Distinct())
                {
                    diagnostics.Add(file.File, node, $"route '{ConfigText.Shown(route.Name)}' requires unknown provider '{ConfigText.Shown(missing)}'");
                }

                if (UsesApiKey(route.Requires))
                {
                    diagnostics.Add(file.File, node, $"route '{ConfigText.Shown(route.Name)}' requires an 'api_key': API keys belong to a service file (top-level 'service')");
                }

                if (routes.Count == ConfigLimits.MaxRoutes)
                {
                    diagnostics.Add(file.File, node, $"config refused: more than {ConfigLimits.MaxRoutes} routes");
                    break;
                }

                routes.Add(route with { Requires = WithAudiences(route.Requires, providers) });
            }

            if (file.DefaultAllow is { } value)
            {
                if (defaultFile is not null)
                {
                    diagnostics.Add(file.File, file.DefaultNode, $"'default' is already set in {defaultFile}");
                }
                else
                {
                    defaultAllow = value;
                    defaultFile = file.File;
                }
            }
        }

        return new AuthPolicy(providers, routes, defaultAllow ?? false);
    }

    /// <summary>Each provider requirement gets the audiences it checks: its own if it names any, else its provider's (Envoy jwt_authn semantics).</summary>
    private static Requirement WithAudiences(Requirement requirement, IReadOnlyDictionary<string, ProviderPolicy> providers) => requirement switch
    {
        ProviderRequirement { Audiences: null or { Count: 0 } } p when providers.TryGetValue(p.Provider, out var provider) && provider.Audiences is { Count: > 0 } audiences =>
            p with { Audiences = audiences },
        AnyRequirement any => new AnyRequirement([.. any.Options.Select(o => WithAudiences(o, providers))]),
        AllRequirement all => new AllRequirement([.. all.Parts.Select(o => WithAudiences(o, providers))]),
        _ => requirement,
    };

    private static IEnumerable<string> Referenced(Requirement requirement) => requirement switch
    {
        ProviderRequirement p => [p.Provider],
        AnyRequirement any => any.Options.SelectMany(Referenced),
        AllRequirement all => all.Parts.SelectMany(Referenced),
        _ => [],
    };
}
