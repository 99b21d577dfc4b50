using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Grpc.Core;

namespace Sidecars.Floor;

/// <summary>Allows every Check: status 0 and an empty ok_response, the same instance every time.</summary>
internal sealed class FloorAuthorization(FloorCounters counters) : global::Envoy.Service.Auth.V3.Authorization.AuthorizationBase
{
    private static readonly Task<CheckResponse> Allowed = Task.FromResult(new CheckResponse { Status = new Google.Rpc.Status(), OkResponse = new OkHttpResponse() });

    public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context)
    {
        counters.Check();
        return Allowed;
    }
}

/// <summary>Answers every ShouldRateLimit with OK overall and one OK status per descriptor.</summary>
internal sealed class FloorRateLimit(FloorCounters counters) : RateLimitService.RateLimitServiceBase
{
    // Pre-built for the usual descriptor counts, so the floor allocates no more than the gRPC stack does.
    private static readonly Task<RateLimitResponse>[] Answers = [.. Enumerable.Range(0, 17).Select(n => Task.FromResult(Answer(n)))];

    public override Task<RateLimitResponse> ShouldRateLimit(RateLimitRequest request, ServerCallContext context)
    {
        counters.ShouldRateLimit();
        var n = request.Descriptors.Count;
        return n < Answers.Length ? Answers[n] : Task.FromResult(Answer(n));
    }

    private static RateLimitResponse Answer(int descriptors)
    {
        var response = new RateLimitResponse { OverallCode = RateLimitResponse.Types.Code.Ok };
        for (var i = 0; i < descriptors; i++)
        {
            response.Statuses.Add(new RateLimitResponse.Types.DescriptorStatus { Code = RateLimitResponse.Types.Code.Ok });
        }

        return response;
    }
}
