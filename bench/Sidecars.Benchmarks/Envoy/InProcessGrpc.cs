using System.Buffers;
using Grpc.Core;

namespace Sidecars.Benchmarks.Envoy;

/// <summary>
/// The two ends of a unary call as Grpc.AspNetCore drives a marshaller: a request payload handed to the
/// deserializer, and a reused buffer the serializer writes the response into (as the HTTP/2 pipe would).
/// </summary>
internal sealed class PayloadReader(byte[] payload) : DeserializationContext
{
    public override int PayloadLength => payload.Length;

    public override byte[] PayloadAsNewBuffer() => payload.ToArray();

    public override ReadOnlySequence<byte> PayloadAsReadOnlySequence() => new(payload);
}

internal sealed class PayloadWriter : SerializationContext
{
    private readonly ArrayBufferWriter<byte> _buffer = new(4096);

    public int Written { get; private set; }

    public void Reset() => _buffer.ResetWrittenCount();

    public override void SetPayloadLength(int payloadLength) => Written = payloadLength;

    public override IBufferWriter<byte> GetBufferWriter() => _buffer;

    public override void Complete()
    {
    }

    public override void Complete(byte[] payload) => _buffer.Write(payload);
}

/// <summary>The server call context the services see; they read only its cancellation token.</summary>
internal sealed class BenchCallContext : ServerCallContext
{
    protected override string MethodCore => "/bench";

    protected override string HostCore => "127.0.0.1";

    protected override string PeerCore => "ipv4:127.0.0.1:1";

    protected override DateTime DeadlineCore => DateTime.MaxValue;

    protected override Metadata RequestHeadersCore { get; } = [];

    protected override CancellationToken CancellationTokenCore => CancellationToken.None;

    protected override Metadata ResponseTrailersCore { get; } = [];

    protected override Status StatusCore { get; set; }

    protected override WriteOptions? WriteOptionsCore { get; set; }

    protected override AuthContext AuthContextCore { get; } = new(null, []);

    protected override ContextPropagationToken CreatePropagationTokenCore(ContextPropagationOptions? options) => throw new NotSupportedException();

    protected override Task WriteResponseHeadersAsyncCore(Metadata responseHeaders) => Task.CompletedTask;
}
