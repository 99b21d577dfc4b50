using Grpc.Core;
using Grpc.Health.V1;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Sidecars.Envoy.Health;

/// <summary>
/// <c>grpc.health.v1.Health</c>: SERVING once a config is loaded, NOT_SERVING while draining. The empty
/// service name and each served service's full name are known; any other is NOT_FOUND (Check) or
/// SERVICE_UNKNOWN (Watch), as the gRPC health spec says.
/// </summary>
public sealed class HealthService(ServingState serving) : Grpc.Health.V1.Health.HealthBase
{
    private static readonly string[] KnownServices = ["", "envoy.service.ratelimit.v3.RateLimitService", "envoy.service.auth.v3.Authorization"];

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (Array.IndexOf(KnownServices, request.Service) < 0)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"unknown service '{request.Service}'"));
        }

        return Task.FromResult(new HealthCheckResponse { Status = Current() });
    }

    /// <summary>Streams the status on every change; ends when the call is cancelled or the server drains.</summary>
    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        var known = Array.IndexOf(KnownServices, request.Service) >= 0;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, serving.Stopping);
        var last = (ServingStatus)(-1);
        while (true)
        {
            var status = known ? Current() : ServingStatus.ServiceUnknown;
            if (status != last)
            {
                await responseStream.WriteAsync(new HealthCheckResponse { Status = status }).ConfigureAwait(false);
                last = status;
            }

            if (ended.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), ended.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Loop once more: a drain is reported as NOT_SERVING before the stream ends.
            }
        }
    }

    private ServingStatus Current() => serving.IsServing ? ServingStatus.Serving : ServingStatus.NotServing;
}
