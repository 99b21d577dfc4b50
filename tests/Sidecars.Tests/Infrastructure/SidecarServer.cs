using System.Net.Sockets;
using Envoy.Service.Ratelimit.V3;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Sidecars.Server.Hosting;

namespace Sidecars.Tests.Infrastructure;

/// <summary>The real server, in this process, on free loopback ports and a Unix socket.</summary>
internal sealed class SidecarServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<GrpcChannel> _channels = [];

    private SidecarServer(WebApplication app, int httpPort, string grpcAddress)
    {
        _app = app;
        HttpPort = httpPort;
        GrpcAddress = grpcAddress;
    }

    public int HttpPort { get; }

    /// <summary>HOST:PORT or unix:/path, as given to --grpc.</summary>
    public string GrpcAddress { get; }

    public IServiceProvider Services => _app.Services;

    public HttpClient Http { get; } = new() { Timeout = TimeSpan.FromSeconds(10) };

    public static async Task<SidecarServer> StartAsync(string? configDirectory, bool unixSocket = false, IDictionary<string, string?>? settings = null)
    {
        var httpPort = FreePort.Next();
        var grpc = unixSocket ? "unix:" + Path.Combine(Path.GetTempPath(), $"sidecars-{Guid.NewGuid():N}.sock") : $"127.0.0.1:{FreePort.Next()}";
        var overrides = new Dictionary<string, string?>
        {
            ["Sidecars:Config"] = configDirectory,
            ["Sidecars:Grpc"] = grpc,
            ["Sidecars:Http"] = $"127.0.0.1:{httpPort}",
            ["Sidecars:ReloadPollInterval"] = "00:00:00.5",
            ["Sidecars:ReloadDebounce"] = "00:00:00.05",
            ["Sidecars:ShutdownTimeout"] = "00:00:05",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            overrides[key] = value;
        }

        var app = SidecarApp.Build(overrides);
        await app.StartAsync();
        var server = new SidecarServer(app, httpPort, grpc);
        server.Http.BaseAddress = new Uri($"http://127.0.0.1:{httpPort}");
        return server;
    }

    public GrpcChannel Channel()
    {
        GrpcChannel channel;
        if (GrpcAddress.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = GrpcAddress["unix:".Length..];
            var handler = new SocketsHttpHandler
            {
                ConnectCallback = async (_, ct) =>
                {
                    var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                },
            };
            channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        }
        else
        {
            channel = GrpcChannel.ForAddress("http://" + GrpcAddress, new GrpcChannelOptions { MaxSendMessageSize = null });
        }

        _channels.Add(channel);
        return channel;
    }

    public RateLimitService.RateLimitServiceClient RateLimitClient() => new(Channel());

    public Task StopAsync() => _app.StopAsync();

    public async ValueTask DisposeAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }

        Http.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
