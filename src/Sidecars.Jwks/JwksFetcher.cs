using System.Text.Json;
using Sidecars.Authentication;

namespace Sidecars.Jwks;

/// <summary>
/// One fetch of a provider's key set: the discovery document first when configured (its <c>issuer</c> must be
/// the provider's, OpenID Connect Discovery 1.0 §4.3, and its <c>jwks_uri</c> must pass the URI policy), then
/// the key set, parsed by <see cref="JwksParser"/>. The outcome is keys or one message, never an exception.
/// </summary>
internal static class JwksFetcher
{
    private const string WellKnown = "/.well-known/openid-configuration";

    /// <summary>Keys (with the ones left out, and why) or the error; a set without a usable key is an error.</summary>
    internal sealed record Outcome(IReadOnlyList<SigningKey>? Keys, TimeSpan? MaxAge, string? Error, IReadOnlyList<string> KeyErrors)
    {
        public static Outcome Failed(string error, IReadOnlyList<string>? keyErrors = null) => new(null, null, error, keyErrors ?? []);
    }

    public static async Task<Outcome> FetchAsync(HttpClient http, Uri uri, bool discovery, string? issuer, JwksOptions options, TimeProvider time)
    {
        var jwksUri = uri;
        if (discovery)
        {
            var document = await JwksHttp.GetAsync(http, uri, options, time).ConfigureAwait(false);
            if (document.Error is { } failed)
            {
                return Outcome.Failed($"discovery document: {failed}");
            }

            var (found, error) = JwksUriOf(document.Body!, uri, issuer);
            if (found is null)
            {
                return Outcome.Failed(error!);
            }

            jwksUri = found;
        }

        var answer = await JwksHttp.GetAsync(http, jwksUri, options, time).ConfigureAwait(false);
        if (answer.Error is { } fetchError)
        {
            return Outcome.Failed(fetchError);
        }

        var keys = JwksParser.Parse(answer.Body, out var keyErrors, allowSymmetric: false, maxBytes: Math.Max(options.MaxBytes, 1));
        return keys.Count == 0
            ? Outcome.Failed(keyErrors.Count == 0 ? "the key set holds no usable signing key" : $"the key set holds no usable signing key: {string.Join("; ", keyErrors)}", keyErrors)
            : new Outcome(keys, answer.MaxAge, null, keyErrors);
    }

    private static (Uri? JwksUri, string? Error) JwksUriOf(byte[] body, Uri discoveryUri, string? issuer)
    {
        string? documentIssuer;
        string? jwks;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = 32 });
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, "the discovery document is not a JSON object");
            }

            documentIssuer = root.TryGetProperty("issuer", out var iss) && iss.ValueKind == JsonValueKind.String ? iss.GetString() : null;
            jwks = root.TryGetProperty("jwks_uri", out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return (null, "the discovery document is not valid JSON");
        }

        if (documentIssuer is null)
        {
            return (null, "the discovery document has no issuer");
        }

        if (issuer is not null)
        {
            if (!string.Equals(documentIssuer, issuer, StringComparison.Ordinal))
            {
                return (null, $"the discovery document's issuer '{JwksParser.Printable(documentIssuer)}' is not the provider's issuer '{issuer}'");
            }
        }
        else
        {
            // No issuer configured: the document must name the issuer its own address was built from (§4: issuer + WellKnown).
            var address = JwksUriPolicy.Redact(discoveryUri);
            if (!address.EndsWith(WellKnown, StringComparison.Ordinal))
            {
                return (null, $"the provider has no issuer, and the discovery address does not end in {WellKnown} to derive one");
            }

            var expected = address[..^WellKnown.Length];
            if (!string.Equals(documentIssuer.TrimEnd('/'), expected.TrimEnd('/'), StringComparison.Ordinal))
            {
                return (null, $"the discovery document's issuer '{JwksParser.Printable(documentIssuer)}' is not the issuer its address names '{expected}'");
            }
        }

        if (!Uri.TryCreate(jwks, UriKind.Absolute, out var uri))
        {
            return (null, "the discovery document has no absolute jwks_uri");
        }

        return JwksUriPolicy.Check(uri) is { } refused ? (null, $"the discovery document's jwks_uri {JwksUriPolicy.Redact(uri)}: {refused}") : (uri, null);
    }
}
