using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>A token whose signature and registered claims were verified.</summary>
public sealed class ValidatedToken(string algorithm, string? keyId, JsonElement claims, DateTimeOffset? expires)
{
    public string Algorithm { get; } = algorithm;

    public string? KeyId { get; } = keyId;

    /// <summary>The payload, detached from the parsed document.</summary>
    public JsonElement Claims { get; } = claims;

    public DateTimeOffset? Expires { get; } = expires;

    public string? Subject => Claims.TryGetProperty("sub", out var sub) && sub.ValueKind == JsonValueKind.String ? sub.GetString() : null;
}
