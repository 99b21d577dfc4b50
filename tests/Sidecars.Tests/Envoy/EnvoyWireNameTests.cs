using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf.Reflection;
using Sidecars.Envoy.Wire;
using AuthorizationService = Envoy.Service.Auth.V3.Authorization;

namespace Sidecars.Tests.Envoy;

/// <summary>The routes the server binds by name are the compiled protos' names: Envoy calls exactly these paths.</summary>
public sealed class EnvoyWireNameTests
{
    [Fact]
    public void Check_is_bound_at_the_protos_path() => AssertBound(
        AuthorizationService.Descriptor, "Check", CheckRequest.Descriptor, EnvoyWire.Check.FullName, "/envoy.service.auth.v3.Authorization/Check");

    [Fact]
    public void ShouldRateLimit_is_bound_at_the_protos_path() => AssertBound(
        RateLimitService.Descriptor, "ShouldRateLimit", RateLimitRequest.Descriptor, EnvoyWire.ShouldRateLimit.FullName,
        "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit");

    private static void AssertBound(ServiceDescriptor service, string name, MessageDescriptor input, string bound, string envoyPath)
    {
        var method = service.FindMethodByName(name);
        Assert.NotNull(method);
        Assert.Equal($"/{service.FullName}/{method.Name}", bound);
        Assert.Equal(envoyPath, bound);
        Assert.Equal(method.InputType.FullName, input.FullName);
    }
}
