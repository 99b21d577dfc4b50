namespace Sidecars.Envoy.Authorization;

/// <summary>How denials are worded (section <c>Sidecars:Auth</c>).</summary>
public sealed class AuthResponseOptions
{
    /// <summary>
    /// Adds the refusal's reason as <see cref="ReasonHeader"/> and as <c>error_description</c> of
    /// <c>WWW-Authenticate</c> on denials. Off by default (issue 7, finding 9): a reason names required scopes,
    /// claims and kids, which a client probing the policy must not learn; it stays in the decision log (Debug).
    /// </summary>
    public bool ExposeReason { get; set; }

    public string ReasonHeader { get; set; } = "x-ext-authz-reason";

    /// <summary>The <c>realm</c> of <c>WWW-Authenticate</c>; empty uses the request's host.</summary>
    public string Realm { get; set; } = string.Empty;

    /// <summary>Entries of the token cache, shared by all providers.</summary>
    public int TokenCacheSize { get; set; } = 10_000;
}
