using System.Text.Json.Serialization;

namespace Sidecars.Load.Model;

/// <summary>The load tool's JSON, source-generated (snake_case, indented): run results, h2load expectations, the token pool.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true, UseStringEnumConverter = true)]
[JsonSerializable(typeof(RunResult))]
[JsonSerializable(typeof(List<RunResult>))]
[JsonSerializable(typeof(RunSpec))]
[JsonSerializable(typeof(H2LoadExpectation))]
[JsonSerializable(typeof(TokenPool))]
[JsonSerializable(typeof(ReadyzCounters))]
public sealed partial class LoadJsonContext : JsonSerializerContext;

/// <summary>
/// DIR/h2load/&lt;scenario&gt;.expect.json. h2load counts a gRPC error as a success (HTTP 200 with a grpc-status
/// trailer and no data), so its data bytes per request are compared with these sizes.
/// </summary>
/// <param name="Path">The gRPC path to post to, e.g. /envoy.service.auth.v3.Authorization/Check.</param>
/// <param name="RequestFrameBytes">Size of the .bin file: 5-byte gRPC header + message.</param>
/// <param name="FloorResponseFrameBytes">The floor's answer to this request, exactly (5-byte header + message).</param>
/// <param name="SidecarsResponseFrameBytes">The sidecar's answer to this request, built as its adapter builds it; 0 when not known at prepare time.</param>
/// <param name="Outcome">The sidecar's expected decision: allow, deny_401, deny_403, ok, over_limit.</param>
public sealed record H2LoadExpectation(
    string Scenario,
    string Path,
    int RequestFrameBytes,
    int FloorResponseFrameBytes,
    int SidecarsResponseFrameBytes,
    string Outcome);

/// <summary>DIR/tokens.json: the pre-signed tokens (one per user, the cold pool, the bad ones) and when they expire.</summary>
public sealed record TokenPool(
    DateTimeOffset IssuedAt,
    DateTimeOffset ExpiresAt,
    string Issuer,
    string Audience,
    string KeyId,
    List<string> Tokens,
    List<string> ColdTokens,
    List<string> ExpiredTokens,
    List<string> WrongAudienceTokens,
    List<string> BadSignatureTokens);

/// <summary>The "calls" and "runtime" objects of a server's /readyz (sidecar and floor alike).</summary>
public sealed record ReadyzCounters(Dictionary<string, long>? Calls, ReadyzRuntime? Runtime);

public sealed record ReadyzRuntime(long Gen0, long Gen1, long Gen2, double GcPauseMs, long HeapBytes, long WorkingSetBytes, bool ServerGc, int Threads);
