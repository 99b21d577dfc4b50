using Grpc.Core;
using Sidecars.Load.Generator.Http2;
using Sidecars.Load.Model;

namespace Sidecars.Load.Generator;

/// <summary>
/// One HTTP/2 connection the generator sends unary calls on, as their encoded bytes. Two transports: the raw HTTP/2
/// client of <see cref="Http2"/> (the default: a fraction of Grpc.Net.Client's CPU per call, so the generator keeps its
/// schedule while it shares the cores with the server it measures) and Grpc.Net.Client (<c>--client grpc</c>).
/// </summary>
public abstract class Connection : IDisposable
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(static b => b, static b => b);

    /// <summary>Check with the request and the response as their encoded bytes (the scenario encodes and judges).</summary>
    internal static readonly Method<byte[], byte[]> RawCheck = new(MethodType.Unary, "envoy.service.auth.v3.Authorization", "Check", Bytes, Bytes);

    internal static readonly Method<byte[], byte[]> RawShouldRateLimit = new(MethodType.Unary, "envoy.service.ratelimit.v3.RateLimitService", "ShouldRateLimit", Bytes, Bytes);

    /// <summary>A unary call of <paramref name="method"/> (its FullName is the HTTP/2 :path) with a raw-bytes request.</summary>
    /// <exception cref="RpcException">(from the task) the server answered a gRPC status other than OK, or the transport failed.</exception>
    internal abstract Task<byte[]> CallAsync(Method<byte[], byte[]> method, byte[] request);

    /// <summary><paramref name="endpoint"/>: http://HOST:PORT or unix:/path.sock.</summary>
    public static Connection Open(string endpoint, ClientKind client = ClientKind.H2) => client switch
    {
        ClientKind.Grpc => GrpcNetConnection.Open(endpoint),
        _ => H2Connection.Open(endpoint),
    };

    internal static Method<byte[], byte[]> Raw(string service, string name) => new(MethodType.Unary, service, name, Bytes, Bytes);

    internal static byte[][] Encode<T>(T[] messages)
        where T : Google.Protobuf.IMessage
    {
        var encoded = new byte[messages.Length][];
        for (var i = 0; i < messages.Length; i++)
        {
            encoded[i] = Google.Protobuf.MessageExtensions.ToByteArray(messages[i]);
        }

        return encoded;
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected abstract void Dispose(bool disposing);
}
