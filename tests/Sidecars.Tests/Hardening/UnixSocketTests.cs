using System.Net.Sockets;
using Envoy.Service.Ratelimit.V3;
using Grpc.Net.Client;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.Server;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, finding 13: a second instance must not take over a live Unix socket; a stale one is replaced; at exit
/// only the socket file we created is deleted; the file's mode is a setting.
/// </summary>
public sealed class UnixSocketTests
{
    private static string SocketPath() => Path.Combine(Path.GetTempPath(), $"sidecars-{Guid.NewGuid():N}.sock");

    private static SidecarsProcess Serve(string socket, string http, IDictionary<string, string>? environment = null) =>
        SidecarsProcess.Start(["serve", "--grpc", "unix:" + socket, "--http", http], environment);

    private static async Task<bool> ServesAsync(string socket)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), ct);
                return new NetworkStream(s, ownsSocket: true);
            },
        };
        using var channel = GrpcChannel.ForAddress("http://localhost", new GrpcChannelOptions { HttpHandler = handler });
        try
        {
            var response = await new RateLimitService.RateLimitServiceClient(channel)
                .ShouldRateLimitAsync(RateLimitServiceTests.Request("nowhere", [("k", "v")]), deadline: DateTime.UtcNow.AddSeconds(10));
            return response.OverallCode == RateLimitResponse.Types.Code.Ok;
        }
        catch (Grpc.Core.RpcException)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_second_instance_refuses_a_live_socket_and_the_first_keeps_serving()
    {
        var socket = SocketPath();
        var http = StartupFailureTests.Loopback();
        await using var first = Serve(socket, http);
        Assert.True(await first.WaitForOutputAsync("listening for HTTP"), first.Stdout + first.Stderr);
        Assert.True(await ServesAsync(socket));

        var line = await StartupFailureTests.FailsToStart(["serve", "--grpc", "unix:" + socket, "--http", StartupFailureTests.Loopback()]);
        Assert.Equal($"sidecars: gRPC listener unix socket {socket} is in use by another process", line);

        Assert.True(File.Exists(socket), "the second instance must leave the first one's socket file alone");
        Assert.True(await ServesAsync(socket), "the first instance must still serve on its socket");
        Assert.True(await first.TerminateAsync());
        Assert.False(File.Exists(socket), "the first instance deletes its own socket file at exit");
    }

    [Fact]
    public async Task A_stale_socket_file_is_replaced()
    {
        var socket = SocketPath();
        await using (var crashed = Serve(socket, StartupFailureTests.Loopback()))
        {
            Assert.True(await crashed.WaitForOutputAsync("listening for HTTP"), crashed.Stdout + crashed.Stderr);
            crashed.Kill(); // SIGKILL: the socket file stays, nobody accepts on it
        }

        Assert.True(File.Exists(socket));
        await using var next = Serve(socket, StartupFailureTests.Loopback());
        Assert.True(await next.WaitForOutputAsync("listening for HTTP"), next.Stdout + next.Stderr);
        Assert.True(await ServesAsync(socket));
    }

    [Fact]
    public async Task At_exit_a_file_that_replaced_our_socket_is_left_alone()
    {
        var socket = SocketPath();
        await using var server = Serve(socket, StartupFailureTests.Loopback());
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        File.Delete(socket);
        await File.WriteAllTextAsync(socket, "someone else's");
        Assert.True(await server.TerminateAsync());
        Assert.Equal("someone else's", await File.ReadAllTextAsync(socket));
        File.Delete(socket);
    }

    [Theory]
    [InlineData(null, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite)]
    [InlineData("0600", UnixFileMode.UserRead | UnixFileMode.UserWrite)]
    [InlineData("0666", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)]
    public async Task The_socket_file_gets_the_configured_mode(string? mode, UnixFileMode expected)
    {
        var socket = SocketPath();
        var environment = mode is null ? null : new Dictionary<string, string> { ["SIDECARS__UNIXSOCKETMODE"] = mode };
        await using var server = Serve(socket, StartupFailureTests.Loopback(), environment);
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        Assert.Equal(expected, OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(socket));
        Assert.True(await ServesAsync(socket));
    }
}
