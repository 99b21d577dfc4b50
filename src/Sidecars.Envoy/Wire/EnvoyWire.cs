using System.Buffers;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;
using AuthorizationService = Envoy.Service.Auth.V3.Authorization;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// The two gRPC methods Envoy calls, with <see cref="LenientMarshaller"/> request marshallers, and the markers
/// that stand for a request that could not be read. The server binds these instead of the generated ones.
/// </summary>
public static class EnvoyWire
{
    /// <summary>Stands for a CheckRequest that is not a protobuf message; compared by reference, never mutated.</summary>
    public static readonly CheckRequest UnreadableCheckRequest = new();

    /// <summary>Stands for a RateLimitRequest that is not a protobuf message; compared by reference, never mutated.</summary>
    public static readonly RateLimitRequest UnreadableRateLimitRequest = new();

    public static readonly Method<CheckRequest, CheckResponse> Check = Unary(
        AuthorizationService.Descriptor, "Check", LenientMarshaller.Create(CheckRequest.Parser, CheckRequest.Descriptor, UnreadableCheckRequest), CheckResponse.Parser);

    public static readonly Method<RateLimitRequest, RateLimitResponse> ShouldRateLimit = Unary(
        RateLimitService.Descriptor, "ShouldRateLimit", LenientMarshaller.Create(RateLimitRequest.Parser, RateLimitRequest.Descriptor, UnreadableRateLimitRequest), RateLimitResponse.Parser);

    /// <summary>Reads a CheckRequest as the server does (tests and fuzz harnesses call this directly).</summary>
    public static CheckRequest ReadCheckRequest(ReadOnlyMemory<byte> bytes) =>
        LenientMarshaller.Read(new ReadOnlySequence<byte>(bytes), CheckRequest.Parser, CheckRequest.Descriptor, UnreadableCheckRequest);

    /// <summary>Reads a RateLimitRequest as the server does.</summary>
    public static RateLimitRequest ReadRateLimitRequest(ReadOnlyMemory<byte> bytes) =>
        LenientMarshaller.Read(new ReadOnlySequence<byte>(bytes), RateLimitRequest.Parser, RateLimitRequest.Descriptor, UnreadableRateLimitRequest);

    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(ServiceDescriptor service, string name, Marshaller<TRequest> request, MessageParser<TResponse> responseParser)
        where TRequest : class, IMessage<TRequest>
        where TResponse : class, IMessage<TResponse>
    {
        // Names from the compiled protos, so the route is the generated service's route.
        var method = service.FindMethodByName(name) ?? throw new InvalidOperationException($"{service.FullName} has no method {name}");
        var response = Marshallers.Create<TResponse>(LenientMarshaller.Serialize, context => responseParser.ParseFrom(context.PayloadAsReadOnlySequence()));
        return new Method<TRequest, TResponse>(MethodType.Unary, service.FullName, method.Name, request, response);
    }
}
