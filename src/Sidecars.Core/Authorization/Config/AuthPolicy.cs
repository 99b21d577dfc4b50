using Sidecars.Authentication;

namespace Sidecars.Authorization.Config;

/// <summary>Where a provider's keys come from.</summary>
public sealed record KeySource(string? RemoteUri = null, TimeSpan? CacheDuration = null, string? DiscoveryUri = null, string? LocalFile = null, string? LocalInline = null);

/// <summary>A claim copied into a request header for the upstream.</summary>
public sealed record ClaimHeader(string Claim, string Header);

/// <summary>
/// A compiled provider: validation, token locations, key source and what the upstream receives.
/// <see cref="Audiences"/> are the provider's <c>audiences</c>: the default of every route requirement that
/// names no <c>audiences</c> of its own (a route's list overrides them, as jwt_authn's
/// <c>provider_and_audiences</c> does), so they are checked per route, not by the validator.
/// </summary>
public sealed record ProviderPolicy(
    JwtProvider Provider,
    KeySource Keys,
    bool Forward,
    string? ForwardPayloadHeader,
    IReadOnlyList<ClaimHeader> ClaimToHeaders,
    IReadOnlyList<string>? Audiences = null)
{
    /// <summary>With <c>forward: false</c>, the header locations stripped from an allowed request; shared by every token's upstream headers.</summary>
    internal string[]? TokenHeaderNames => Forward ? null : field ??= [.. Provider.Locations.Where(l => l.Kind == TokenLocationKind.Header).Select(l => l.Name)];

    /// <summary>With <c>forward: false</c>, the query parameter locations stripped from an allowed request.</summary>
    internal string[]? TokenParameterNames => Forward ? null : field ??= [.. Provider.Locations.Where(l => l.Kind == TokenLocationKind.QueryParameter).Select(l => l.Name)];
}

/// <summary>The authorization part of a snapshot: providers by name, routes in evaluation order, and the default.</summary>
public sealed record AuthPolicy(IReadOnlyDictionary<string, ProviderPolicy> Providers, IReadOnlyList<AuthRoute> Routes, bool DefaultAllow)
{
    public static readonly AuthPolicy Empty = new(new Dictionary<string, ProviderPolicy>(), [], false);

    /// <summary>The providers' validators by name, as token sources look them up.</summary>
    public IReadOnlyDictionary<string, JwtProvider> Validators { get; } = Providers.ToDictionary(p => p.Key, p => p.Value.Provider, StringComparer.Ordinal);

    /// <summary>
    /// Every claim and payload header any provider of the policy sets, computed once per snapshot: an allow
    /// removes all of them, except those the deciding provider sets (issue 7, finding 2).
    /// </summary>
    /// <remarks>API key sets of service files count as providers here: their <c>claim_to_headers</c> are identity headers too.</remarks>
    public IReadOnlyList<string> ClaimHeaderNames => field ??= Providers.Values
        .Concat(Services.ApiKeySets.Values.Select(k => k.Policy))
        .SelectMany(p => p.ForwardPayloadHeader is { } payload ? p.ClaimToHeaders.Select(c => c.Header).Append(payload) : p.ClaimToHeaders.Select(c => c.Header))
        .Distinct(StringComparer.OrdinalIgnoreCase)
        .ToArray();

    /// <summary>The service files: who owns which request space, their routes, rules, limits and API keys.</summary>
    public Sidecars.Authorization.Services.ServiceCatalog Services { get; init; } = Sidecars.Authorization.Services.ServiceCatalog.Empty;

    /// <summary>
    /// Whether some exact path, path prefix (of a shared or a service route) or owned prefix holds an uppercase ASCII
    /// letter or a non-ASCII character: then ignoring case may select another route for any path, and the evaluator's
    /// case check always runs (see <c>AuthEvaluator</c>). Path regexes match as written in both readings.
    /// </summary>
    public bool PatternsFold => _patternsFold ??= Routes.Concat(Services.Services.SelectMany(s => s.Routes))
        .SelectMany(r => (string?[])[r.Match.PathExact, r.Match.PathPrefix])
        .Concat(Services.Services.SelectMany(s => s.Owns).Select(o => o.PathPrefix))
        .Any(p => p is not null && p.AsSpan().ContainsAnyExcept(AuthEvaluator.Unfoldable));

    private bool? _patternsFold;

    /// <summary>The provider policy of a decision's provider name: a JWT provider, or a service's API key set.</summary>
    public ProviderPolicy? ProviderOf(string name) =>
        Providers.TryGetValue(name, out var provider) ? provider : Services.ApiKeySets.TryGetValue(name, out var set) ? set.Policy : null;

    /// <summary>What an allow without a verified token sends upstream: nothing set, every claim header removed.</summary>
    internal UpstreamHeaders HeadersWithoutToken => field ??= new UpstreamHeaders([], ClaimHeaderNames);

    /// <summary>Whether any file declared authorization at all; without one, ext_authz answers per <see cref="DefaultAllow"/>.</summary>
    public bool IsEmpty => Providers.Count == 0 && Routes.Count == 0 && Services.IsEmpty;
}
