using System.Buffers;
using System.Buffers.Text;
using System.Runtime.InteropServices;
using System.Text.Json;
using Sidecars.Authentication;
using Sidecars.Authorization.Config;

namespace Sidecars.Authorization;

/// <summary>
/// The headers an allowed request's upstream receives from the sidecar: the deciding provider's claim and
/// payload headers to set, and every other claim or payload header configured for any provider of the policy
/// to remove, so that a client can never send its own <c>x-user-id</c> (issue 7, finding 2) — whether a
/// provider decided, another option of an <c>any</c> won, or no token was needed at all.
/// </summary>
/// <remarks>
/// With <c>forward: false</c> the token is stripped too: <see cref="TokenHeaders"/> are removed when the request
/// carries them, <see cref="TokenParameters"/> always (Envoy ignores a query parameter that is not there).
/// </remarks>
public sealed class UpstreamHeaders(IReadOnlyList<KeyValuePair<string, string>> set, IReadOnlyList<string> remove, string[]? tokenHeaders = null, string[]? tokenParameters = null)
{
    public IReadOnlyList<KeyValuePair<string, string>> Set { get; } = set;

    public IReadOnlyList<string> Remove { get; } = remove;

    /// <summary>The deciding provider's header locations, in its order, each removed when the request has it.</summary>
    public IReadOnlyList<string> TokenHeaders { get; } = tokenHeaders ?? [];

    /// <summary>The deciding provider's query parameter locations, in its order, removed from every allowed request.</summary>
    public IReadOnlyList<string> TokenParameters { get; } = tokenParameters ?? [];

    // What a token's headers were computed for, kept in this one object (no separate shape record per cached token).
    internal AuthPolicy? Policy { get; private init; }

    internal ProviderPolicy? Provider { get; private init; }

    /// <summary>Why the token cannot be allowed under this policy (a claim that cannot be a header value), or null.</summary>
    internal string? Refusal { get; private init; }

    internal static UpstreamHeaders For(AuthPolicy policy, ProviderPolicy provider, IReadOnlyList<KeyValuePair<string, string>> set, IReadOnlyList<string> remove, string? refusal = null) =>
        new(set, remove, provider.TokenHeaderNames, provider.TokenParameterNames) { Policy = policy, Provider = provider, Refusal = refusal };
}

/// <summary>Completes an allow with its <see cref="UpstreamHeaders"/>, or turns it into a deny when a claim cannot be a header value.</summary>
public static class UpstreamShaping
{
    // C0 controls (CR, LF, NUL, HTAB...), DEL and C1 controls: never in a header value built from a claim
    // (RFC 9110 §5.5 leaves CR, LF and NUL invalid; the others are refused too, a claim has no need of them).
    private static readonly SearchValues<char> Controls = SearchValues.Create(
        [.. Enumerable.Range(0, 0x20).Select(c => (char)c), '\u007f', .. Enumerable.Range(0x80, 0x20).Select(c => (char)c)]);

    public static AuthDecision Complete(AuthPolicy policy, AuthDecision decision)
    {
        if (!decision.Allowed)
        {
            return decision;
        }

        if (decision.Token is not { } token || decision.Provider is null || policy.ProviderOf(decision.Provider) is not { } provider)
        {
            return decision with { Upstream = policy.HeadersWithoutToken };
        }

        var shape = Volatile.Read(ref token.Upstream);
        if (shape is null || !ReferenceEquals(shape.Policy, policy) || !ReferenceEquals(shape.Provider, provider))
        {
            shape = Shape(policy, provider, token);
            Volatile.Write(ref token.Upstream, shape);
        }

        return shape.Refusal is { } refusal
            ? AuthDecision.Forbidden(decision.Route, decision.Provider, refusal, error: null)
            : decision with { Upstream = shape };
    }

    /// <summary>Whether a claim value may be sent as a header value: no control character, no lone surrogate.</summary>
    public static bool IsHeaderSafe(string value) => !value.AsSpan().ContainsAny(Controls) && !JwtJson.HasLoneSurrogate(value);

    /// <summary>
    /// Sized exactly and sharing what depends only on the policy and provider (the lists of names), since it is
    /// kept with every cached token: the token's own objects are this one, its array of headers and their values.
    /// </summary>
    private static UpstreamHeaders Shape(AuthPolicy policy, ProviderPolicy provider, ValidatedToken token)
    {
        var claims = token.Claims;
        var mappings = provider.ClaimToHeaders;
        var payloadHeader = provider.ForwardPayloadHeader;
        var set = new KeyValuePair<string, string>[mappings.Count + (payloadHeader is null ? 0 : 1)];
        var count = 0;
        for (var i = 0; i < mappings.Count; i++)
        {
            var mapping = mappings[i];
            if (claims.ValueKind == JsonValueKind.Object && claims.TryGetProperty(mapping.Claim, out var value) &&
                value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
            {
                var text = value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
                if (!IsHeaderSafe(text))
                {
                    // Deny rather than drop: an upstream that sees no x-user-id might take the request for anonymous or default.
                    return UpstreamHeaders.For(policy, provider, [], [], $"claim '{mapping.Claim}' cannot be sent in header '{mapping.Header}': it holds a control character");
                }

                set[count++] = new(mapping.Header, text);
            }
        }

        if (payloadHeader is not null)
        {
            // The verified bytes as they were signed, not re-encoded: nothing to transcode, nothing to throw.
            set[count++] = new(payloadHeader, Base64Url.EncodeToString(JsonMarshal.GetRawUtf8Value(claims)));
        }

        if (count == 0)
        {
            return UpstreamHeaders.For(policy, provider, [], policy.ClaimHeaderNames);
        }

        if (count < set.Length)
        {
            Array.Resize(ref set, count);
        }

        var remove = policy.ClaimHeaderNames.Where(name => !Array.Exists(set, h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase))).ToArray();
        return UpstreamHeaders.For(policy, provider, set, remove.Length == 0 ? [] : remove);
    }
}
