using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;

namespace Sidecars.Load.Generator;

/// <summary>
/// Grpc.Net.Client: its own channel and handler per connection, with EnableMultipleHttp2Connections off so the calls
/// given to it stay on one HTTP/2 connection (as Envoy's few long-lived connections to a cluster do). About 250 µs of
/// CPU per call on a 2-core VM: kept for <c>--client grpc</c> and for one-off calls (probe, prepare).
/// </summary>
internal sealed class GrpcNetConnection : Connection
{
    private readonly GrpcChannel _channel;
    private readonly CallInvoker _invoker;

    private GrpcNetConnection(GrpcChannel channel)
    {
        _channel = channel;
        _invoker = channel.CreateCallInvoker();
    }

    internal CallInvoker Invoker => _invoker;

    internal override Task<byte[]> CallAsync(Method<byte[], byte[]> method, byte[] request) =>
        _invoker.AsyncUnaryCall(method, null, default, request).ResponseAsync;

    /// <summary><paramref name="endpoint"/>: http://HOST:PORT or unix:/path.sock.</summary>
    public static GrpcNetConnection Open(string endpoint)
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
        return new GrpcNetConnection(channel);
    }

    protected override void Dispose(bool disposing) => _channel.Dispose();
}
