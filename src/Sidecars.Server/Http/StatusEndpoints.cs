using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Sidecars.Config;
using Sidecars.Envoy.Health;
using Sidecars.RateLimiting;
using Sidecars.Server.Config;
using Sidecars.Server.Wire;

namespace Sidecars.Server.Http;

/// <summary><c>/healthz</c> (liveness: the process answers) and <c>/readyz</c> (a config is active and the server is not draining, and which config).</summary>
internal static class StatusEndpoints
{
    public static void MapStatusEndpoints(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapGet("/healthz", () => Results.Text("ok\n"));
        endpoints.MapGet("/readyz", (ConfigState state, ServingState serving, IStoreStatusSource store, JwksManager jwks, CallCounters calls, Sidecars.Envoy.Authorization.AuthorizationServiceAdapter authorization, Microsoft.Extensions.Options.IOptions<Sidecars.Server.Hosting.SidecarsOptions> options) =>
        {
            var ready = serving.IsServing && (!options.Value.RequireKeysForReadiness || jwks.AllHaveKeys());
            var snapshot = state.Current;
            var body = new ReadyStatus(
                ready,
                snapshot.Generation,
                snapshot.Fingerprint,
                snapshot.Files,
                state.FileStatuses,
                snapshot.RateLimits.Domains.Count,
                state.FailedReloads,
                [.. state.LastErrors.Select(e => e.ToString())],
                store.Status(),
                [.. jwks.Status().Select(s => new JwksStatus(s.Provider, s.HasKeys, s.LastError, s.Fetches, s.Uri, s.Keys, s.Failures, s.LastSuccess, s.LastAttempt, s.KeyErrors))],
                calls.Read() with { CheckDryRun = authorization.DryRuns },
                RuntimeStatus.Now());
            return Results.Json(body, StatusJsonContext.Default.ReadyStatus, statusCode: ready ? 200 : 503);
        });
    }
}

internal sealed record ReadyStatus(
    bool Ready,
    long Generation,
    string Fingerprint,
    IReadOnlyList<string> Files,
    IReadOnlyList<FileStatus> FileStatus,
    int Domains,
    long FailedReloads,
    IReadOnlyList<string> LastErrors,
    StoreStatus Store,
    IReadOnlyList<JwksStatus> Jwks,
    CallCounts Calls,
    RuntimeStatus Runtime);

/// <summary>
/// The process's GC and thread pool at this moment: the load tool reads it before and after a run (GC counts and
/// pause time per run, which GC mode the build runs with, bytes allocated per call, what the last GC promoted). The floor serves the same object.
/// </summary>
internal sealed record RuntimeStatus(int Gen0, int Gen1, int Gen2, double GcPauseMs, long HeapBytes, long WorkingSetBytes, bool ServerGc, int Threads, long AllocatedBytes, long PromotedBytes)
{
    public static RuntimeStatus Now() => new(
        GC.CollectionCount(0),
        GC.CollectionCount(1),
        GC.CollectionCount(2),
        GC.GetTotalPauseDuration().TotalMilliseconds,
        GC.GetGCMemoryInfo().HeapSizeBytes,
        Environment.WorkingSet,
        System.Runtime.GCSettings.IsServerGC,
        ThreadPool.ThreadCount,
        GC.GetTotalAllocatedBytes(precise: false),
        GC.GetGCMemoryInfo(GCKind.Any).PromotedBytes);
}

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
[JsonSerializable(typeof(ConfigView))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
