using Envoy.Service.Auth.V3;
using Google.Protobuf;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// What the server sends for one Check: a <see cref="CheckResponse"/> message (a deny, built per call), or the
/// encoded protobuf bytes of one (an allow, encoded once and kept with the token it answers for), with the gRPC
/// status code the call counters read either way. <see cref="Wire.EnvoyWire.Check"/>'s response marshaller
/// writes the bytes as they are.
/// </summary>
/// <remarks>
/// Why bytes: a kept allow as a message graph (the claims' <c>Struct</c>, a <c>Value</c> per claim, map fields)
/// cost ~3.6 KB of small objects per cached token, which the GC marks on every collection, and about a fifth of
/// the server's CPU under load went to walking that graph again on each call (<c>CalculateSize</c>, <c>WriteTo</c>).
/// The bytes are one array of a few hundred bytes that is copied to the wire (issue 8).
/// Immutable: an instance is shared by every call it answers.
/// </remarks>
public sealed class CheckAnswer
{
    private readonly CheckResponse? _message;
    private readonly byte[]? _encoded;

    /// <summary>An answer that is this message; the marshaller serializes it as the generated one would.</summary>
    public CheckAnswer(CheckResponse message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _message = message;
        StatusCode = message.Status?.Code ?? 0;
    }

    private CheckAnswer(byte[] encoded, int statusCode, AllowFit fit)
    {
        _encoded = encoded;
        StatusCode = statusCode;
        Fit = fit;
    }

    /// <summary>An answer holding only the encoding of <paramref name="message"/>, sized exactly; the message can go.</summary>
    public static CheckAnswer Encode(CheckResponse message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return EncodeKept(message, default);
    }

    private readonly LimitHeaderEncoder.LimitTail? _tail;

    private CheckAnswer(byte[] encoded, int statusCode, LimitHeaderEncoder.LimitTail tail)
    {
        _encoded = encoded;
        StatusCode = statusCode;
        _tail = tail;
    }

    /// <summary><paramref name="kept"/>'s bytes (shared, not copied) followed per call by <paramref name="tail"/> (see <see cref="LimitHeaderEncoder"/>).</summary>
    internal static CheckAnswer WithTail(CheckAnswer kept, LimitHeaderEncoder.LimitTail tail) => new(kept._encoded!, kept.StatusCode, tail);

    /// <summary>Bytes on the wire for an encoded answer: the kept bytes and the per-call tail, if any.</summary>
    public int Length => (_encoded?.Length ?? 0) + (_tail?.Length ?? 0);

    /// <summary>Writes an encoded answer (exactly <see cref="Length"/> bytes).</summary>
    public void WriteTo(Span<byte> destination)
    {
        _encoded.CopyTo(destination);
        _tail?.WriteTo(destination[_encoded!.Length..]);
    }

    internal static CheckAnswer EncodeKept(CheckResponse message, AllowFit fit) => new(message.ToByteArray(), message.Status?.Code ?? 0, fit);

    /// <summary>For a kept allow, what it was built for (see <see cref="AllowResponses"/>); in the answer, not beside it, to keep one object less per cached token.</summary>
    internal AllowFit Fit { get; }

    /// <summary>The <c>google.rpc.Status</c> code of the response: 0 is an allow (a response without a status too).</summary>
    public int StatusCode { get; }

    /// <summary>The message, when this answer holds one; null for an encoded answer.</summary>
    public CheckResponse? Message => _message;

    /// <summary>The encoded response, when this answer holds bytes; empty for a message answer. With a per-call tail, a new array (tests; the server writes with <see cref="WriteTo"/>).</summary>
    public ReadOnlySpan<byte> Encoded
    {
        get
        {
            if (_tail is null)
            {
                return _encoded;
            }

            var bytes = new byte[Length];
            WriteTo(bytes);
            return bytes;
        }
    }

    /// <summary>True when the answer holds encoded bytes rather than a message.</summary>
    public bool IsEncoded => _encoded is not null;

    /// <summary>
    /// The answer as a message: the one held, or the bytes parsed into a new one. For the in-process
    /// <c>AuthorizationBase.Check</c> (tests) and a gRPC client; the server's path never parses.
    /// </summary>
    public CheckResponse ToMessage() => _message ?? CheckResponse.Parser.ParseFrom(Encoded);
}
