namespace Sidecars.Authentication;

/// <summary>Where a provider's token is looked for: a header (with a value prefix), a query parameter, or a cookie.</summary>
public sealed record TokenLocation(TokenLocationKind Kind, string Name, string Prefix = "")
{
    /// <summary>Envoy jwt_authn's default: <c>Authorization: Bearer &lt;token&gt;</c>.</summary>
    public static readonly TokenLocation BearerHeader = new(TokenLocationKind.Header, "authorization", "Bearer ");
}

public enum TokenLocationKind
{
    Header,
    QueryParameter,
    Cookie,
}

/// <summary>
/// A JWT issuer the sidecar trusts: its validation rules, where its tokens are found, and its current keys.
/// The key set is replaced as a whole (by the JWKS layer) and read once per validation.
/// </summary>
public sealed class JwtProvider(string name, JwtValidationOptions options, IReadOnlyList<TokenLocation>? locations = null)
{
    private IReadOnlyList<SigningKey> _keys = [];

    public string Name { get; } = name;

    public JwtValidationOptions Options { get; } = options;

    public IReadOnlyList<TokenLocation> Locations { get; } = locations is { Count: > 0 } ? locations : [TokenLocation.BearerHeader];

    public IReadOnlyList<SigningKey> Keys => Volatile.Read(ref _keys);

    public void SetKeys(IReadOnlyList<SigningKey> keys) => Volatile.Write(ref _keys, keys);

    /// <summary>Who refreshes the keys (a JWKS source), told when a token names a key the set does not hold.</summary>
    public IKeyRefresher? Refresher { get; set; }
}

/// <summary>Implemented by key sources that can fetch again; the source decides how often it actually does.</summary>
public interface IKeyRefresher
{
    void RequestRefresh();
}
