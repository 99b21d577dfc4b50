using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sidecars.Config;
using Sidecars.Envoy.Health;
using Sidecars.RateLimiting;
using Sidecars.Server.Config;

namespace Sidecars.Server.Http;

/// <summary><c>/healthz</c> (liveness: the process answers) and <c>/readyz</c> (a config is active and the server is not draining, and which config).</summary>
internal static class StatusEndpoints
{
    public static void MapStatusEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));
        endpoints.MapGet("/readyz", (ConfigState state, ServingState serving, IStoreStatusSource store, JwksManager jwks, Microsoft.Extensions.Options.IOptions<Sidecars.Server.Hosting.SidecarsOptions> options) =>
        {
            var ready = serving.IsServing && (!options.Value.RequireKeysForReadiness || jwks.AllHaveKeys());
            var snapshot = state.Current;
            var body = new ReadyStatus(
                ready,
                snapshot.Generation,
                snapshot.Fingerprint,
                snapshot.Files,
                snapshot.RateLimits.Domains.Count,
                state.FailedReloads,
                [.. state.LastErrors.Select(e => e.ToString())],
                store.Status(),
                [.. jwks.Status().Select(s => new JwksStatus(s.Provider, s.HasKeys, s.LastError, s.Fetches, s.Uri, s.Keys, s.Failures, s.LastSuccess, s.LastAttempt, s.KeyErrors))]);
            return Results.Json(body, StatusJsonContext.Default.ReadyStatus, statusCode: ready ? 200 : 503);
        });
    }
}

internal sealed record ReadyStatus(
    bool Ready,
    long Generation,
    string Fingerprint,
    IReadOnlyList<string> Files,
    int Domains,
    long FailedReloads,
    IReadOnlyList<string> LastErrors,
    StoreStatus Store,
    IReadOnlyList<JwksStatus> Jwks);

/// <summary>A remote provider's keys: <c>last_error</c> says why the last fetch failed, <c>key_errors</c> which keys the last document left out and why.</summary>
internal sealed record JwksStatus(
    string Provider,
    bool HasKeys,
    string? LastError,
    long Fetches,
    string Uri,
    int Keys,
    long Failures,
    DateTimeOffset? LastSuccess,
    DateTimeOffset? LastAttempt,
    IReadOnlyList<string> KeyErrors);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ReadyStatus))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
