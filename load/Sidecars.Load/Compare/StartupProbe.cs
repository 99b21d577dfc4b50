using System.Diagnostics;
using Envoy.Service.Auth.V3;
using Grpc.Core;
using Grpc.Net.Client;

namespace Sidecars.Load.Compare;

/// <summary>
/// Start-up as Envoy sees it: from spawning the process to the first Check that comes back allowed (the listener is
/// up, the config is compiled, the key is loaded). Polled in a tight, bounded loop; the median of several spawns.
/// </summary>
public static class StartupProbe
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>Spawn to first allowed Check, in milliseconds, for each of <paramref name="samples"/> fresh processes.</summary>
    public static async Task<List<double>> MeasureAsync(string label, Func<ServerCommand> command, CheckRequest request, int samples, string logDirectory)
    {
        List<double> results = [];
        for (var i = 0; i < samples; i++)
        {
            await using var server = ServerProcess.Start($"{label}-startup-{i}", command(), Path.Combine(logDirectory, $"{label}-startup.log"));
            results.Add(await FirstAllowedAsync(server, request).ConfigureAwait(false));
        }

        return results;
    }

    private static async Task<double> FirstAllowedAsync(ServerProcess server, CheckRequest request)
    {
        // A fresh channel per spawn: no connection carried over from the previous process. Given an HttpClient, the
        // channel sends each call straight to it; given a SocketsHttpHandler it would manage connectivity itself and
        // back off (about a second) after the refused connects of a server not yet listening — timing its backoff.
        using var http = new HttpClient(new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(1) });
        using var channel = GrpcChannel.ForAddress(server.Endpoint, new GrpcChannelOptions { HttpClient = http });
        var client = new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(channel);
        var attempts = 0;
        while (server.Age < Bound)
        {
            attempts++;
            try
            {
                var answer = await client.CheckAsync(request, deadline: DateTime.UtcNow.AddSeconds(2)).ConfigureAwait(false);
                if (answer.Status?.Code == 0)
                {
                    return server.Age.TotalMilliseconds;
                }
            }
            catch (RpcException)
            {
                // Not listening yet (Unavailable) or not ready to decide: poll again.
            }

            // Sub-millisecond resolution without burning a core the starting server needs.
            var pause = Stopwatch.StartNew();
            while (pause.Elapsed.TotalMilliseconds < 0.5)
            {
                Thread.Yield();
            }
        }

        throw new TimeoutException($"{server.Label}: no allowed Check within {Bound.TotalSeconds:F0} s ({attempts} attempts)");
    }

    public static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? 0 : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
