using System.Net.Sockets;
using Envoy.Service.Ratelimit.V3;
using Grpc.Core;
using Grpc.Net.Client;
using AuthorizationClient = Envoy.Service.Auth.V3.Authorization.AuthorizationClient;

namespace Sidecars.Load.Generator;

/// <summary>
/// One HTTP/2 connection: its own channel and handler, with EnableMultipleHttp2Connections off so the calls
/// given to it stay on it (as Envoy's few long-lived connections to a cluster do).
/// </summary>
public sealed class Connection : IDisposable
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(static b => b, static b => b);

    /// <summary>Check with the request and the response as their encoded bytes (the scenario encodes and judges).</summary>
    internal static readonly Method<byte[], byte[]> RawCheck = new(MethodType.Unary, "envoy.service.auth.v3.Authorization", "Check", Bytes, Bytes);

    internal static readonly Method<byte[], byte[]> RawShouldRateLimit = new(MethodType.Unary, "envoy.service.ratelimit.v3.RateLimitService", "ShouldRateLimit", Bytes, Bytes);

    private readonly GrpcChannel _channel;
    private readonly CallInvoker _invoker;

    private Connection(GrpcChannel channel)
    {
        _channel = channel;
        _invoker = channel.CreateCallInvoker();
        Authorization = new AuthorizationClient(channel);
        RateLimit = new RateLimitService.RateLimitServiceClient(channel);
    }

    public AuthorizationClient Authorization { get; }

    public RateLimitService.RateLimitServiceClient RateLimit { get; }

    internal CallInvoker Invoker => _invoker;

    internal Task<byte[]> CallAsync(Method<byte[], byte[]> method, byte[] request) =>
        _invoker.AsyncUnaryCall(method, null, default, request).ResponseAsync;

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

    /// <summary><paramref name="endpoint"/>: http://HOST:PORT or unix:/path.sock.</summary>
    public static Connection Open(string endpoint)
    {
        var handler = new SocketsHttpHandler
        {
            EnableMultipleHttp2Connections = false,
            PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(5),
        };
        var address = endpoint;
        if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = endpoint["unix:".Length..];
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            };
            address = "http://localhost";
        }

        var channel = GrpcChannel.ForAddress(address, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            MaxReceiveMessageSize = 4 * 1024 * 1024,
        });
        return new Connection(channel);
    }

    public void Dispose() => _channel.Dispose();
}
