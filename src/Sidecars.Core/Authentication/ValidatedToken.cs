using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>A token whose signature and registered claims were verified.</summary>
public sealed class ValidatedToken(string algorithm, string? keyId, JsonElement claims, DateTimeOffset? expires, SigningKey? key = null)
{
    /// <summary>The key that verified the signature: a cached token stays valid only while its key set still holds it.</summary>
    public SigningKey? Key { get; } = key;

    /// <summary>
    /// Granted scopes from <c>scope</c> (space-separated) and <c>scp</c> (string or array), parsed on each read: the
    /// policy asks <see cref="HasScope"/> instead, which reads the claims in place, so a cached token holds no array
    /// and no string per scope.
    /// </summary>
    public string[] Scopes => ParseScopes(Claims);

    public string Algorithm { get; } = algorithm;

    public string? KeyId { get; } = keyId;

    /// <summary>The payload, detached from the parsed document.</summary>
    public JsonElement Claims { get; } = claims;

    public DateTimeOffset? Expires { get; } = expires;

    /// <summary>Set when this is the identity of an API key (its <c>id</c>) rather than a verified JWT.</summary>
    public string? ApiKeyId { get; init; }

    /// <summary>Its upstream headers for the policy and provider last seen, computed once (see <c>UpstreamShaping</c>).</summary>
    internal Authorization.UpstreamHeaders? Upstream;

    private object? _adapterState;

    /// <summary>
    /// What an adapter derived from this token alone (its encoded answer), kept with the token so that a cache
    /// hit reuses it; the token cache bounds it as it bounds the token. Opaque to the core, which never reads it.
    /// Read and written whole: the adapter stores an immutable object and checks that it still fits.
    /// </summary>
    public object? AdapterState
    {
        get => Volatile.Read(ref _adapterState);
        set => Volatile.Write(ref _adapterState, value);
    }

    /// <summary>Whether <paramref name="scope"/> is one of <see cref="Scopes"/>; allocates nothing (a cached decision calls it).</summary>
    public bool HasScope(string scope)
    {
        ArgumentNullException.ThrowIfNull(scope);
        var claims = Claims;
        if (claims.ValueKind != JsonValueKind.Object || scope.Length == 0)
        {
            return false;
        }

        foreach (var name in (ReadOnlySpan<string>)["scope", "scp"])
        {
            if (claims.TryGetProperty(name, out var value) && Grants(value, scope))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Grants(JsonElement value, string scope)
    {
        if (value.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.String && item.ValueEquals(scope))
                {
                    return true;
                }
            }

            return false;
        }

        return value.ValueKind == JsonValueKind.String && ScopeList.Contains(value, scope);
    }

    private static string[] ParseScopes(JsonElement claims)
    {
        if (claims.ValueKind != JsonValueKind.Object)
        {
            return [];
        }

        var scopes = new List<string>();
        foreach (var name in (ReadOnlySpan<string>)["scope", "scp"])
        {
            if (!claims.TryGetProperty(name, out var value))
            {
                continue;
            }

            if (value.ValueKind == JsonValueKind.String)
            {
                scopes.AddRange(value.GetString()!.Split(' ', StringSplitOptions.RemoveEmptyEntries));
            }
            else if (value.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String)
                    {
                        scopes.Add(item.GetString()!);
                    }
                }
            }
        }

        return [.. scopes];
    }

    public string? Subject => Claims.TryGetProperty("sub", out var sub) && sub.ValueKind == JsonValueKind.String ? sub.GetString() : null;
}
