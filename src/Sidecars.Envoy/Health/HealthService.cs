using Grpc.Core;
using Grpc.Health.V1;
using Sidecars.Authentication;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Sidecars.Envoy.Health;

/// <summary>
/// <c>grpc.health.v1.Health</c>: SERVING once a config is loaded, NOT_SERVING while draining. The empty
/// service name and each served service's full name are known; any other is NOT_FOUND (Check) or
/// SERVICE_UNKNOWN (Watch), as the gRPC health spec says. The auth service is also NOT_SERVING while a
/// provider that routes need has no keys (issue 7, finding 16): it would deny every token of that provider.
/// The empty name (the whole server) and the rate limit service do not depend on keys.
/// </summary>
public sealed class HealthService(ServingState serving, IKeyReadiness? keys = null) : Grpc.Health.V1.Health.HealthBase
{
    private const string AuthService = "envoy.service.auth.v3.Authorization";
    private static readonly string[] KnownServices = ["", "envoy.service.ratelimit.v3.RateLimitService", AuthService];

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (Array.IndexOf(KnownServices, request.Service) < 0)
        {
            throw new RpcException(new Status(StatusCode.NotFound, $"unknown service '{request.Service}'"));
        }

        return Task.FromResult(new HealthCheckResponse { Status = Current(request.Service) });
    }

    /// <summary>Streams the status on every change; ends when the call is cancelled or the server drains.</summary>
    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        var known = Array.IndexOf(KnownServices, request.Service) >= 0;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, serving.Stopping);
        var last = (ServingStatus)(-1);
        while (true)
        {
            var status = known ? Current(request.Service) : ServingStatus.ServiceUnknown;
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

    private ServingStatus Current(string service) =>
        !serving.IsServing || (service == AuthService && keys is { KeysReady: false }) ? ServingStatus.NotServing : ServingStatus.Serving;
}
