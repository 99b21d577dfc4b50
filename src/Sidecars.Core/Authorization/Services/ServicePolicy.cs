using Sidecars.RateLimiting;

namespace Sidecars.Authorization.Services;

/// <summary>Whether a service's (or a route's) decision is enforced or only computed, reported and allowed.</summary>
public enum PolicyMode
{
    Enforce,
    DryRun,
}

/// <summary>A part of the request space a service owns: a whole host, or a path prefix of a host.</summary>
public sealed class OwnedSpace(string host, string? pathPrefix, string location)
{
    /// <summary>Normalised: lower case, no port, no trailing dot.</summary>
    public string Host { get; } = RequestHost.Normalize(host);

    /// <summary>Null for the whole host.</summary>
    public string? PathPrefix { get; } = pathPrefix;

    /// <summary><c>file:line:col</c> of the entry, for the messages of a conflict.</summary>
    public string Location { get; } = location;

    public ServicePolicy Service { get; internal set; } = null!;

    /// <summary>Whether every request this space holds is also held by <paramref name="other"/>'s, or the reverse: the overlap the compiler refuses.</summary>
    public bool Overlaps(OwnedSpace other) =>
        string.Equals(Host, other.Host, StringComparison.Ordinal) &&
        (PathPrefix is null || other.PathPrefix is null ||
         PathPrefix.StartsWith(other.PathPrefix, StringComparison.Ordinal) || other.PathPrefix.StartsWith(PathPrefix, StringComparison.Ordinal));

    public override string ToString() => PathPrefix is null ? Host : Host + PathPrefix;
}

/// <summary>What a service-route limit is keyed by: a claim, a header, the source address, the API key id, the route or the service.</summary>
public enum LimitPartKind
{
    Claim,
    Header,
    SourceIp,
    ApiKey,
    Route,
    Service,
}

public readonly record struct LimitPart(LimitPartKind Kind, string? Name = null)
{
    public override string ToString() => Kind switch
    {
        LimitPartKind.Claim => "claim:" + Name,
        LimitPartKind.Header => "header:" + Name,
        LimitPartKind.SourceIp => "source_ip",
        LimitPartKind.ApiKey => "api_key",
        LimitPartKind.Route => "route",
        _ => "service",
    };
}

/// <summary>
/// One <c>rate_limits</c> entry of a service route: the bucket math of the rate limit service (<see cref="CompiledLimit"/>)
/// and the parts of the request its bucket is keyed by. <see cref="KeyPrefix"/> names the bucket's owner
/// (service, route, limit) so that no two limits anywhere share a bucket.
/// </summary>
public sealed class ServiceLimit(CompiledLimit limit, IReadOnlyList<LimitPart> parts, string keyPrefix, bool dryRun)
{
    public CompiledLimit Limit { get; } = limit;

    public IReadOnlyList<LimitPart> Parts => PartArray;

    // The array itself for the per-request loop: no interface call per part.
    internal LimitPart[] PartArray { get; } = [.. parts];

    public string KeyPrefix { get; } = keyPrefix;

    /// <summary>Each part's claim name as UTF-8 (null for other parts): looked up in the token's claims without transcoding.</summary>
    internal byte[]?[] ClaimNames { get; } = [.. parts.Select(p => p.Kind == LimitPartKind.Claim ? System.Text.Encoding.UTF8.GetBytes(p.Name!) : null)];

    /// <summary>Over this limit, the request is reported, not denied (the route's or service's dry run).</summary>
    public bool DryRun { get; } = dryRun;

    public string Name => Limit.Name!;
}

/// <summary>
/// What a route of a service file adds to an <see cref="AuthRoute"/>: the service, the rules that must hold
/// after authentication, the limits charged inside <c>Check</c>, and whether it is in dry run.
/// </summary>
public sealed class ServiceRoute(ServicePolicy service, string name, IReadOnlyList<Rule> rules, IReadOnlyList<string> ruleReasons, IReadOnlyList<ServiceLimit> limits, PolicyMode mode)
{
    public ServicePolicy Service { get; } = service;

    public string Name { get; } = name;

    /// <summary>Every rule must hold (a list means all).</summary>
    public IReadOnlyList<Rule> Rules => RuleArray;

    /// <summary>The 403 reason when <see cref="Rules"/>[i] fails, built at compile time.</summary>
    public IReadOnlyList<string> RuleReasons { get; } = ruleReasons;

    public IReadOnlyList<ServiceLimit> Limits => LimitArray;

    // The arrays themselves for the per-request loops (ServiceEvaluator, ServiceLimiter): no interface call per item.
    internal Rule[] RuleArray { get; } = [.. rules];

    internal ServiceLimit[] LimitArray { get; } = [.. limits];

    /// <summary>Whether <c>Check</c> charges a bucket for this route.</summary>
    public bool HasLimits => LimitArray.Length > 0;

    public PolicyMode Mode { get; } = mode;

    public bool DryRun => Mode == PolicyMode.DryRun;
}

/// <summary>One compiled service file.</summary>
public sealed class ServicePolicy(string name, string file, PolicyMode mode, IReadOnlyList<OwnedSpace> owns, IReadOnlyDictionary<string, ApiKeySet> apiKeys)
{
    public string Name { get; } = name;

    public string File { get; } = file;

    public PolicyMode Mode { get; } = mode;

    public IReadOnlyList<OwnedSpace> Owns { get; } = owns;

    public IReadOnlyDictionary<string, ApiKeySet> ApiKeys { get; } = apiKeys;

    /// <summary>The service's routes in declared order; set once by the compiler.</summary>
    public IReadOnlyList<AuthRoute> Routes { get; internal set; } = [];

    /// <summary>The domain its limits' buckets belong to (<c>service:NAME</c>): the store's key prefix and failure policy apply as to any domain.</summary>
    public RateLimitDomain Domain { get; } = new("service:" + name, new DescriptorNode(null, null, null));

    /// <summary>The deny reason when a request is in the service's space but none of its routes matches.</summary>
    public string NoRouteReason { get; } = $"no route of service '{name}' matches this request";
}
