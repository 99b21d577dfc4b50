using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Sidecars.Envoy.Wire;
using AuthorizationService = Envoy.Service.Auth.V3.Authorization;

namespace Sidecars.Tests.Envoy;

/// <summary>The routes the server binds by name are the compiled protos' names: Envoy calls exactly these paths.</summary>
public sealed class EnvoyWireNameTests
{
    [Fact]
    public void Check_is_bound_at_the_protos_path()
    {
        var method = AuthorizationService.Descriptor.FindMethodByName("Check");
        Assert.Equal($"/{AuthorizationService.Descriptor.FullName}/{method.Name}", EnvoyWire.Check.FullName);
        Assert.Equal("/envoy.service.auth.v3.Authorization/Check", EnvoyWire.Check.FullName);
        Assert.Equal(method.InputType.FullName, CheckRequest.Descriptor.FullName);
    }

    [Fact]
    public void ShouldRateLimit_is_bound_at_the_protos_path()
    {
        var method = RateLimitService.Descriptor.FindMethodByName("ShouldRateLimit");
        Assert.Equal($"/{RateLimitService.Descriptor.FullName}/{method.Name}", EnvoyWire.ShouldRateLimit.FullName);
        Assert.Equal("/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit", EnvoyWire.ShouldRateLimit.FullName);
        Assert.Equal(method.InputType.FullName, RateLimitRequest.Descriptor.FullName);
    }
}
