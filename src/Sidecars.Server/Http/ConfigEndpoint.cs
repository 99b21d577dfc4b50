using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sidecars.Config;

namespace Sidecars.Server.Http;

/// <summary>
/// <c>GET /config</c>: which config is active and where each file stands — the generation, when it became active, each
/// file with the checksum of its active version, when that version was loaded and the last error of its latest one.
/// Nothing of the config's content goes out: no key, no key hash, no JWKS, no limit; errors are the located messages
/// the log has, which never quote a key.
/// </summary>
internal static class ConfigEndpoint
{
    public static void MapConfigEndpoint(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapGet("/config", (ConfigState state) =>
        {
            var snapshot = state.Current;
            var body = new ConfigView(
                snapshot.Generation,
                snapshot.Fingerprint,
                state.ActiveSince,
                state.FailedReloads,
                state.FileStatuses,
                [.. state.LastErrors.Select(e => e.ToString())]);
            return Results.Json(body, StatusJsonContext.Default.ConfigView);
        });
}

/// <summary>The body of <c>/config</c> (snake_case, as <c>/readyz</c>).</summary>
internal sealed record ConfigView(
    long Generation,
    string Fingerprint,
    DateTimeOffset? ActiveSince,
    long FailedReloads,
    IReadOnlyList<FileStatus> Files,
    IReadOnlyList<string> LastErrors);
