using System.Net.Sockets;
using Envoy.Service.Ratelimit.V3;
using Grpc.Net.Client;
using AuthorizationClient = Envoy.Service.Auth.V3.Authorization.AuthorizationClient;

namespace Sidecars.Load.Generator;

/// <summary>
/// One HTTP/2 connection: its own channel and handler, with EnableMultipleHttp2Connections off so the calls
/// given to it stay on it (as Envoy's few long-lived connections to a cluster do).
/// </summary>
public sealed class Connection : IDisposable
{
    private readonly GrpcChannel _channel;

    private Connection(GrpcChannel channel)
    {
        _channel = channel;
        Authorization = new AuthorizationClient(channel);
        RateLimit = new RateLimitService.RateLimitServiceClient(channel);
    }

    public AuthorizationClient Authorization { get; }

    public RateLimitService.RateLimitServiceClient RateLimit { get; }

    internal Grpc.Core.CallInvoker Invoker => _channel.CreateCallInvoker();

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
