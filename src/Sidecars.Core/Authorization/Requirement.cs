namespace Sidecars.Authorization;

/// <summary>What a route requires, in the shapes of Envoy jwt_authn's <c>requires</c>.</summary>
public abstract record Requirement
{
    public static readonly Requirement Allow = new AllowRequirement();
    public static readonly Requirement Deny = new DenyRequirement();
}

public sealed record AllowRequirement : Requirement;

public sealed record DenyRequirement : Requirement;

/// <summary>A claim that must equal one of <see cref="Values"/> (a string claim, or any member of an array claim).</summary>
public sealed record ClaimCondition(string Name, IReadOnlyList<string> Values);

/// <summary>
/// A valid token from <see cref="Provider"/>, with every scope in <see cref="Scopes"/> (from <c>scope</c> or
/// <c>scp</c>), every claim condition, and, when <see cref="Audiences"/> is set, one of those audiences.
/// The config compiler sets <see cref="Audiences"/> to the route's <c>audiences</c> or, when it names none,
/// the provider's: a route's list overrides the provider's, as in Envoy jwt_authn (issue 7, finding 5).
/// With <see cref="AllowMissing"/> a request without a token passes, but a present token must be valid.
/// </summary>
public sealed record ProviderRequirement(
    string Provider,
    IReadOnlyList<string>? Audiences = null,
    IReadOnlyList<string>? Scopes = null,
    IReadOnlyList<ClaimCondition>? Claims = null,
    bool AllowMissing = false) : Requirement;

/// <summary>
/// A key of the service's API key set <see cref="Name"/>, found in its headers or parameters (<c>requires: { api_key: NAME }</c>).
/// <see cref="Set"/> is resolved by the service compiler;
/// </summary>
public sealed record ApiKeyRequirement(string Name, Services.ApiKeySet? Set = null) : Requirement
{
    public bool Equals(ApiKeyRequirement? other) => other is not null && string.Equals(Name, other.Name, StringComparison.Ordinal) && ReferenceEquals(Set, other.Set);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Name);
}

public sealed record AnyRequirement(IReadOnlyList<Requirement> Options) : Requirement;

public sealed record AllRequirement(IReadOnlyList<Requirement> Parts) : Requirement;

/// <summary>A route: a match and its requirement; the first route that matches decides.</summary>
public sealed record AuthRoute(string Name, RouteMatch Match, Requirement Requires)
{
    /// <summary>Set for a route of a service file: its service, rules, limits and mode.</summary>
    public Services.ServiceRoute? Service { get; init; }
}
