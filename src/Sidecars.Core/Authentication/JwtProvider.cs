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
    private string? _keysUnavailable;

    public string Name { get; } = name;

    public JwtValidationOptions Options { get; } = options;

    public IReadOnlyList<TokenLocation> Locations { get; } = locations is { Count: > 0 } ? locations : [TokenLocation.BearerHeader];

    /// <summary>
    /// Everything a validation result depends on besides the keys: the name and every validation option. The
    /// token cache keys its entries by it (issue 7, finding 4), so a reload that tightens the issuer, audiences,
    /// lifetime or skew misses the cache, while a reload that keeps the provider as it was keeps its cached tokens.
    /// </summary>
    public string CacheFingerprint { get; } = Fingerprint(name, options);

    public IReadOnlyList<SigningKey> Keys => Volatile.Read(ref _keys);

    public void SetKeys(IReadOnlyList<SigningKey> keys) => Volatile.Write(ref _keys, keys);

    /// <summary>Who refreshes the keys (a JWKS source), told when a token names a key the set does not hold.</summary>
    public IKeyRefresher? Refresher { get; set; }

    /// <summary>
    /// While the provider has no keys at all: "keys for provider 'x' not available yet: &lt;why&gt;", the deny
    /// reason that sends an operator to the JWKS fetch rather than to key rotation (issue 7, finding 16). Null
    /// once it has keys.
    /// </summary>
    public string? KeysUnavailableReason => Keys.Count > 0 ? null : Volatile.Read(ref _keysUnavailable) ?? $"keys for provider '{Name}' not available yet";

    /// <summary>Records why the keys could not be had (the last fetch error), or null for "not fetched yet".</summary>
    public void SetKeysUnavailable(string? why) =>
        Volatile.Write(ref _keysUnavailable, why is null ? null : $"keys for provider '{Name}' not available yet: {why}");

    private static string Fingerprint(string name, JwtValidationOptions o)
    {
        // Length-prefixed parts, so no two different option sets print the same; hashed to keep the cache's compare short.
        var text = new System.Text.StringBuilder();
        foreach (var part in (ReadOnlySpan<string?>)[
            name, o.Issuer, string.Join('\n', o.Audiences.Select(a => $"{a.Length}:{a}")), o.ClockSkew.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            o.RequireExpiration ? "exp" : "no-exp", o.MaxLifetime?.Ticks.ToString(System.Globalization.CultureInfo.InvariantCulture),
            o.MaxTokenLength.ToString(System.Globalization.CultureInfo.InvariantCulture), o.RequiredType])
        {
            text.Append(part is null ? "-1" : part.Length.ToString(System.Globalization.CultureInfo.InvariantCulture)).Append(':').Append(part).Append('\n');
        }

        return Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text.ToString())));
    }
}

/// <summary>Implemented by key sources that can fetch again; the source decides how often it actually does.</summary>
public interface IKeyRefresher
{
    void RequestRefresh();
}
