using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.RateLimiting;
using Sidecars.Envoy.Wire;

namespace Sidecars.Server.Wire;

/// <summary>
/// Envoy's two services, bound with <see cref="EnvoyWire"/>'s methods (lenient request marshallers) instead of
/// the generated ones. This type has no generated base, so Grpc.AspNetCore's own binder finds nothing to bind
/// twice; <see cref="EnvoyGrpcServicesMethodProvider"/> adds the methods.
/// </summary>
internal sealed class EnvoyGrpcServices(AuthorizationServiceAdapter authorization, RateLimitServiceAdapter rateLimit, CallCounters counters)
{
    public Task<CheckAnswer> Check(CheckCall call, ServerCallContext context)
    {
        var answer = ReferenceEquals(call, CheckCall.Unreadable)
            ? Task.FromResult(new CheckAnswer(authorization.DenyUnreadable()))
            : authorization.Answer(call);

        // Usually complete already: count without an async state machine on that path. The call's pooled header
        // bytes go back once its answer is built (a store answering later holds the request's view until then).
        if (answer.IsCompletedSuccessfully)
        {
            call.Release();
            CountCheck(answer.Result);
            return answer;
        }

        return CountCheckAsync(answer, call);
    }

    public Task<RateLimitAnswer> ShouldRateLimit(RateLimitCall call, ServerCallContext context)
    {
        var answer = rateLimit.Answer(call, context.CancellationToken);
        if (answer.IsCompletedSuccessfully)
        {
            CountRateLimit(answer.Result);
            return answer;
        }

        return CountRateLimitAsync(answer);
    }

    private void CountCheck(CheckAnswer answer) => counters.Check(answer.StatusCode == 0);

    private void CountRateLimit(RateLimitAnswer answer) =>
        counters.ShouldRateLimit(answer.OverallCode == RateLimitResponse.Types.Code.Ok, answer.OverallCode == RateLimitResponse.Types.Code.OverLimit);

    private async Task<CheckAnswer> CountCheckAsync(Task<CheckAnswer> answer, CheckCall call)
    {
        CheckAnswer response;
        try
        {
            response = await answer.ConfigureAwait(false);
        }
        finally
        {
            call.Release();
        }

        CountCheck(response);
        return response;
    }

    private async Task<RateLimitAnswer> CountRateLimitAsync(Task<RateLimitAnswer> answer)
    {
        var response = await answer.ConfigureAwait(false);
        CountRateLimit(response);
        return response;
    }
}

internal sealed class EnvoyGrpcServicesMethodProvider : IServiceMethodProvider<EnvoyGrpcServices>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<EnvoyGrpcServices> context)
    {
        context.AddUnaryMethod(EnvoyWire.Check, [], static (service, request, call) => service.Check(request, call));
        context.AddUnaryMethod(EnvoyWire.ShouldRateLimit, [], static (service, request, call) => service.ShouldRateLimit(request, call));
    }
}

/// <summary>How the server takes gRPC off the wire: lenient marshallers, bounded decompression, frame checks.</summary>
internal static class EnvoyWireExtensions
{
    /// <summary>Registers the Envoy services and gRPC with the given receive limit (also the limit after decompression).</summary>
    public static IServiceCollection AddEnvoyGrpc(this IServiceCollection services, int maxMessageBytes)
    {
        services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = maxMessageBytes;

            // The default gzip provider inflates without a bound (a 1 MiB message can inflate to 1 GiB) and
            // turns corrupt data into UNKNOWN.
            o.CompressionProviders = [new BoundedGzipCompressionProvider(maxMessageBytes)];
        });
        services.AddSingleton<CallCounters>();
        services.AddSingleton<EnvoyGrpcServices>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IServiceMethodProvider<EnvoyGrpcServices>, EnvoyGrpcServicesMethodProvider>());
        return services;
    }

    /// <summary>Maps Check and ShouldRateLimit, behind the frame guard.</summary>
    public static IEndpointRouteBuilder MapEnvoyGrpc(this WebApplication app)
    {
        app.UseMiddleware<GrpcFrameGuard>();
        app.MapGrpcService<EnvoyGrpcServices>();
        return app;
    }
}
