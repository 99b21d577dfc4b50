using System.Text.Json;
using Grpc.Core;
using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;

namespace Sidecars.Load.Generator;

/// <summary>
/// Sends a scenario's h2load body once, as raw bytes, and measures the answer's frame: what h2load's data bytes per
/// request should be for this server (the sidecar's answer depends on the token's claims, so prepare cannot know it).
/// </summary>
public static class H2LoadProbe
{
    /// <summary>5 + the response message's length, for the body of <paramref name="scenario"/> sent to <paramref name="endpoint"/>.</summary>
    /// <exception cref="RpcException">The server answered with a gRPC error.</exception>
    public static async Task<int> ResponseFrameBytesAsync(string endpoint, PreparedConfig config, string scenario, CancellationToken ct)
    {
        var expect = JsonSerializer.Deserialize(await File.ReadAllTextAsync(config.H2LoadExpect(scenario), ct).ConfigureAwait(false), LoadJsonContext.Default.H2LoadExpectation)
            ?? throw new InvalidOperationException($"{config.H2LoadExpect(scenario)} is empty");
        var frame = await File.ReadAllBytesAsync(config.H2LoadBody(scenario), ct).ConfigureAwait(false);
        var parts = expect.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var method = Connection.Raw(parts[0], parts[1]);
        using var connection = GrpcNetConnection.Open(endpoint);
        var response = await connection.Invoker.AsyncUnaryCall(method, null, new CallOptions(cancellationToken: ct), frame[5..]).ResponseAsync.ConfigureAwait(false);
        return 5 + response.Length;
    }
}
