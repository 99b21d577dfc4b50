namespace Sidecars.Authentication;

/// <summary>Why a token was refused. The kind decides the answer: 401 invalid_token, or 403 insufficient_scope.</summary>
public enum JwtFailureKind
{
    None,

    /// <summary>Malformed, unsigned, badly signed, expired, wrong issuer: 401 with <c>error="invalid_token"</c>.</summary>
    InvalidToken,

    /// <summary>Valid token that does not grant this request (audience, scopes, claims): 403 with <c>error="insufficient_scope"</c>.</summary>
    InsufficientScope,
}

/// <summary>A refusal and its description, safe to show a client: it never contains the token.</summary>
/// <remarks>
/// <see cref="Cacheable"/> marks a refusal that depends only on the token text and the key set (a signature
/// that no key verifies): the same token against the same key set is refused again without crypto.
/// </remarks>
public readonly record struct JwtFailure(JwtFailureKind Kind, string Description, bool UnknownKeyId = false, bool Cacheable = false)
{
    public static JwtFailure Invalid(string description) => new(JwtFailureKind.InvalidToken, description);

    /// <summary>No key of the set verified the signature: worth remembering, it cost up to <see cref="JwtValidator.MaxVerifications"/> verifies.</summary>
    public static JwtFailure BadSignature(string description) => new(JwtFailureKind.InvalidToken, description, Cacheable: true);

    /// <summary>The token names a key the key set does not hold: the JWKS may have rotated, a refresh may help.</summary>
    public static JwtFailure UnknownKey(string description) => new(JwtFailureKind.InvalidToken, description, true);

    public static JwtFailure Scope(string description) => new(JwtFailureKind.InsufficientScope, description);
}
