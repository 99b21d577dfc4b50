using Grpc.Core;
using Grpc.Health.V1;
using Sidecars.Config;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Sidecars.Envoy.Health;

/// <summary>
/// <c>grpc.health.v1.Health</c>: SERVING once a config is loaded. The empty service name and each served
/// service's full name are known; any other name is NOT_FOUND, as the gRPC health spec says.
/// </summary>
public sealed class HealthService(ConfigState config) : Grpc.Health.V1.Health.HealthBase
{
    private static readonly string[] KnownServices = ["", "envoy.service.ratelimit.v3.RateLimitService"];

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        EnsureKnown(request.Service);
        return Task.FromResult(new HealthCheckResponse { Status = Current() });
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        var last = (ServingStatus)(-1);
        while (!context.CancellationToken.IsCancellationRequested)
        {
            var status = Array.IndexOf(KnownServices, request.Service) < 0 ? ServingStatus.ServiceUnknown : Current();
            if (status != last)
            {
                await responseStream.WriteAsync(new HealthCheckResponse { Status = status }).ConfigureAwait(false);
                last = status;
            }

            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), context.CancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private ServingStatus Current() => config.IsLoaded ? ServingStatus.Serving : ServingStatus.NotServing;

    private static void EnsureKnown(string service)
    {
        if (Array.IndexOf(KnownServices, service) < 0)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"unknown service '{service}'"));
        }
    }
}
