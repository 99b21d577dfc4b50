using System.Buffers;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Grpc.Core;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.RateLimiting;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// The two gRPC methods Envoy calls, with <see cref="LenientMarshaller"/> request marshallers, and the markers
/// that stand for a request that could not be read. The server binds these instead of the generated ones.
/// Check answers with a <see cref="CheckAnswer"/>, whose encoded bytes (a kept allow) go to the wire unchanged.
/// ShouldRateLimit reads a <see cref="RateLimitCall"/>, usually straight into the core's query.
/// </summary>
public static class EnvoyWire
{
    /// <summary>Stands for a CheckRequest that is not a protobuf message; compared by reference, never mutated.</summary>
    public static readonly CheckRequest UnreadableCheckRequest = new();

    /// <summary>Stands for a RateLimitRequest that is not a protobuf message; compared by reference, never mutated.</summary>
    public static readonly RateLimitRequest UnreadableRateLimitRequest = new();

    /// <summary>
    /// Check on the wire as Envoy's generated service has it; a client reading through this method gets a
    /// <see cref="CheckAnswer"/> holding the parsed message.
    /// </summary>
    public static readonly Method<CheckCall, CheckAnswer> Check = Unary(
        "envoy.service.auth.v3.Authorization", "Check", Marshallers.Create<CheckCall>(WriteCheckCall, context => CheckRequestReader.Read(context.PayloadAsReadOnlySequence())),
        Marshallers.Create<CheckAnswer>(WriteCheckAnswer, context => new CheckAnswer(CheckResponse.Parser.ParseFrom(context.PayloadAsReadOnlySequence()))));

    /// <summary>ShouldRateLimit on the wire; answers with a <see cref="RateLimitAnswer"/>, usually encoded bytes.</summary>
    public static readonly Method<RateLimitCall, RateLimitAnswer> ShouldRateLimit = Unary(
        "envoy.service.ratelimit.v3.RateLimitService", "ShouldRateLimit", Marshallers.Create<RateLimitCall>((call, context) => WriteAnswer(call.ToRequest(), default, context), context => RateLimitRequestReader.Read(context.PayloadAsReadOnlySequence())),
        Marshallers.Create<RateLimitAnswer>(WriteRateLimitAnswer, context => new RateLimitAnswer(RateLimitResponse.Parser.ParseFrom(context.PayloadAsReadOnlySequence()))));

    /// <summary>Reads a CheckRequest as the server does (tests and fuzz harnesses call this directly).</summary>
    public static CheckRequest ReadCheckRequest(ReadOnlyMemory<byte> bytes) =>
        LenientMarshaller.Read(new ReadOnlySequence<byte>(bytes), CheckRequest.Parser, CheckRequest.Descriptor, UnreadableCheckRequest);

    /// <summary>Reads a Check call as the server does: the request, its headers kept as bytes where that reading is exact.</summary>
    public static CheckCall ReadCheck(ReadOnlyMemory<byte> bytes) => CheckRequestReader.Read(new ReadOnlySequence<byte>(bytes));

    /// <summary>Reads a ShouldRateLimit call as the server does: straight into the core's query where that reading is exact.</summary>
    public static RateLimitCall ReadRateLimit(ReadOnlyMemory<byte> bytes) => RateLimitRequestReader.Read(new ReadOnlySequence<byte>(bytes));

    /// <summary>Reads a RateLimitRequest as the lenient marshaller does (the reading a call falls back to).</summary>
    public static RateLimitRequest ReadRateLimitRequest(ReadOnlyMemory<byte> bytes) =>
        LenientMarshaller.Read(new ReadOnlySequence<byte>(bytes), RateLimitRequest.Parser, RateLimitRequest.Descriptor, UnreadableRateLimitRequest);

    /// <summary>
    /// The bytes of an encoded answer as they are, else the message as the generated marshaller writes it. The
    /// length is known up front either way, so Grpc.AspNetCore writes the frame header and hands out the response
    /// pipe itself (no intermediate buffer unless the call is compressed).
    /// </summary>
    /// <summary>A client sending through <see cref="Check"/> (tests): the request as the generated marshaller writes it, its kept headers put back.</summary>
    private static void WriteCheckCall(CheckCall call, SerializationContext context)
    {
        var request = call.Request ?? new CheckRequest
        {
            Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = call.Http } },
        };
        if (call.Headers is { } headers)
        {
            request = request.Clone();
            var http = request.Attributes.Request.Http;
            for (var i = 0; i < headers.Count; i++)
            {
                http.Headers[headers.Key(i)] = headers.Value(i);
            }
        }

        WriteAnswer(request, default, context);
    }

    private static void WriteCheckAnswer(CheckAnswer answer, SerializationContext context)
    {
        if (answer.Message is not null)
        {
            WriteAnswer(answer.Message, default, context);
            return;
        }

        // The kept bytes and, for a charged allow, its per-call RateLimit headers, written in place.
        var length = answer.Length;
        context.SetPayloadLength(length);
        var writer = context.GetBufferWriter();
        answer.WriteTo(writer.GetSpan(length)[..length]);
        writer.Advance(length);
        context.Complete();
    }

    private static void WriteRateLimitAnswer(RateLimitAnswer answer, SerializationContext context) => WriteAnswer(answer.Message, answer.Encoded, context);

    private static void WriteAnswer(IMessage? message, ReadOnlySpan<byte> encoded, SerializationContext context)
    {
        if (message is not null)
        {
            context.SetPayloadLength(message.CalculateSize());
            message.WriteTo(context.GetBufferWriter());
        }
        else
        {
            context.SetPayloadLength(encoded.Length);
            context.GetBufferWriter().Write(encoded);
        }

        context.Complete();
    }

    // Names as literals, not looked up in the protos' descriptors: building those took 2-3 ms of every start-up
    // (docs/BENCHMARKS.md, "Eighth session"). EnvoyWireNameTests holds them to the compiled protos.
    private static Method<TRequest, TResponse> Unary<TRequest, TResponse>(string service, string name, Marshaller<TRequest> request, Marshaller<TResponse> response)
        where TRequest : class
        where TResponse : class => new(MethodType.Unary, service, name, request, response);
}
