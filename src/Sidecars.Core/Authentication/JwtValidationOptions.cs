namespace Sidecars.Authentication;

/// <summary>What a provider requires of its tokens, as Envoy's jwt_authn names it.</summary>
public sealed class JwtValidationOptions
{
    /// <summary>Required <c>iss</c>; null does not check it.</summary>
    public string? Issuer { get; init; }

    /// <summary>Any one must be in <c>aud</c>; empty does not check it.</summary>
    public IReadOnlyList<string> Audiences { get; init; } = [];

    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    public bool RequireExpiration { get; init; } = true;

    /// <summary>Longest accepted <c>exp − iat</c>; null does not check it.</summary>
    public TimeSpan? MaxLifetime { get; init; }

    /// <summary>Tokens longer than this are refused before any parsing or crypto.</summary>
    public int MaxTokenLength { get; init; } = 8 * 1024;

    /// <summary>Required <c>typ</c> header (e.g. <c>JWT</c>, <c>at+jwt</c>), compared case-insensitively; null does not check it.</summary>
    public string? RequiredType { get; init; }
}
