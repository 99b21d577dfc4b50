using System.Buffers;
using System.Text;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Grpc.Core;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// A gRPC marshaller whose deserializer never throws: a message with invalid UTF-8 in a string field is read
/// with those strings escaped (<see cref="LenientUtf8"/>), a message that does not parse at all becomes the
/// caller's <c>unreadable</c> marker, which the service answers for itself (issue 7, findings 1, 1b, 20).
/// </summary>
/// <remarks>
/// The generated marshaller throws from inside Grpc.AspNetCore, before any handler runs, and the call ends as
/// UNKNOWN, which Envoy's <c>failure_mode_allow</c> (ext_authz) and <c>failure_mode_deny: false</c> (ratelimit)
/// turn into an allowed request. A well-formed message without U+FFFD bytes takes the generated parser's path
/// unchanged, so the steady state costs one vectorized byte search.
/// </remarks>
public static class LenientMarshaller
{
    public static Marshaller<T> Create<T>(MessageParser<T> parser, MessageDescriptor descriptor, T unreadable)
        where T : class, IMessage<T> =>
        Marshallers.Create<T>(Serialize, context => Deserialize(context, parser, descriptor, unreadable));

    /// <summary>The generated marshaller's serializer: straight into gRPC's buffer, no intermediate array.</summary>
    public static void Serialize<T>(T message, SerializationContext context)
        where T : class, IMessage<T>
    {
        context.SetPayloadLength(message.CalculateSize());
        message.WriteTo(context.GetBufferWriter());
        context.Complete();
    }

    private static T Deserialize<T>(DeserializationContext context, MessageParser<T> parser, MessageDescriptor descriptor, T unreadable)
        where T : class, IMessage<T> =>
        Read(context.PayloadAsReadOnlySequence(), parser, descriptor, unreadable);

    /// <summary>What the marshaller reads from <paramref name="payload"/>: the message, or <paramref name="unreadable"/>.</summary>
    public static T Read<T>(in ReadOnlySequence<byte> payload, MessageParser<T> parser, MessageDescriptor descriptor, T unreadable)
        where T : class, IMessage<T>
    {
        // Without EF BF BD bytes no string holds U+FFFD, so a successful parse is exactly the escaped reading.
        if (!LenientUtf8.ContainsEscape(payload))
        {
            try
            {
                return parser.ParseFrom(payload);
            }
#pragma warning disable CA1031 // Invalid UTF-8 or malformed: the slow path below tells which. Not only InvalidProtocolBufferException:
            // Google.Protobuf 3.36 throws InvalidOperationException for a wrapper field cut inside a tag (found by the fuzz suite, seed 4242).
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }

        try
        {
            return Escaped(payload, parser, descriptor, unreadable);
        }
#pragma warning disable CA1031 // The marshaller runs before any handler: whatever a hostile message makes it throw, the message is unreadable, never an UNKNOWN status.
        catch (Exception)
#pragma warning restore CA1031
        {
            return unreadable;
        }
    }

    private static T Escaped<T>(in ReadOnlySequence<byte> payload, MessageParser<T> parser, MessageDescriptor descriptor, T unreadable)
        where T : class, IMessage<T>
    {
        var bytes = payload.ToArray();
        var rewritten = new ArrayBufferWriter<byte>(bytes.Length + 16);
        if (!ProtobufUtf8Escaper.TryRewrite(bytes, descriptor, rewritten))
        {
            return unreadable;
        }

        try
        {
            return parser.ParseFrom(rewritten.WrittenSpan);
        }
        catch (Exception e) when (e is InvalidProtocolBufferException or DecoderFallbackException)
        {
            // Well-formed on the wire but not as this message type (a string field sent as a varint, too deep…).
            return unreadable;
        }
    }
}
