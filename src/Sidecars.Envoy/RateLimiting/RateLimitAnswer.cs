using Envoy.Service.Ratelimit.V3;

namespace Sidecars.Envoy.RateLimiting;

/// <summary>
/// What the server sends for one ShouldRateLimit: the encoded protobuf bytes of the response (the usual answer,
/// written straight from the decision), or a <see cref="RateLimitResponse"/> message (an answer that adds
/// headers), with the overall code the call counters read either way. <see cref="Wire.EnvoyWire.ShouldRateLimit"/>'s
/// response marshaller writes the bytes as they are.
/// </summary>
/// <remarks>
/// Why bytes: the response as a message is an object graph per call (the response, its three repeated fields, a
/// status and a duration per descriptor: 584 B for three descriptors) that the generated code then walks twice to
/// size and write it; the floor answers from a prebuilt response and allocates nothing, and under an open loop
/// the sidecar's extra collections were its tail (issue 8). The bytes are one array of a few dozen bytes.
/// </remarks>
public sealed class RateLimitAnswer
{
    private readonly RateLimitResponse? _message;
    private readonly byte[]? _encoded;

    public RateLimitAnswer(RateLimitResponse message)
    {
        ArgumentNullException.ThrowIfNull(message);
        _message = message;
        OverallCode = message.OverallCode;
    }

    internal RateLimitAnswer(byte[] encoded, RateLimitResponse.Types.Code overallCode)
    {
        _encoded = encoded;
        OverallCode = overallCode;
    }

    public RateLimitResponse.Types.Code OverallCode { get; }

    /// <summary>The message, when this answer holds one; null for an encoded answer.</summary>
    public RateLimitResponse? Message => _message;

    /// <summary>The encoded response, when this answer holds bytes; empty for a message answer.</summary>
    public ReadOnlySpan<byte> Encoded => _encoded;

    public bool IsEncoded => _encoded is not null;

    /// <summary>The answer as a message: the one held, or the bytes parsed into a new one (tests, in-process callers).</summary>
    public RateLimitResponse ToMessage() => _message ?? RateLimitResponse.Parser.ParseFrom(_encoded);
}
