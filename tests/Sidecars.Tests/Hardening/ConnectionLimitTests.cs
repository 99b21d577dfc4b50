using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Envoy.Service.Ratelimit.V3;
using Grpc.Net.Client;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.Server;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, finding 11: connections are bounded (a cap, idle timeouts) so that idle clients cannot use up the
/// process's file descriptors, and the open-files limit is raised to the hard limit at start.
/// </summary>
public sealed class ConnectionLimitTests
{
    private const string Domain = """
        domain: conn
        descriptors:
          - key: user
            rate_limit: { unit: minute, requests_per_unit: 100 }
        """;

    [Fact]
    public async Task Connections_beyond_the_cap_are_closed_while_the_server_keeps_serving_and_reloading()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("conn.yaml", Domain);
        var grpcPort = FreePort.Next();
        var http = StartupFailureTests.Loopback();
        var environment = new Dictionary<string, string>
        {
            ["SIDECARS__CONNECTIONS__MAXCONCURRENT"] = "3",
            ["SIDECARS__RELOADPOLLINTERVAL"] = "00:00:00.5",
        };
        await using var server = SidecarsProcess.Start(["serve", "--config", directory.Path, "--grpc", $"127.0.0.1:{grpcPort}", "--http", http], environment);
        using var client = new HttpClient { BaseAddress = new Uri("http://" + http), Timeout = TimeSpan.FromSeconds(10) };
        await AotBinary.WaitReadyAsync(client); // the HTTP listener has its own cap
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var rateLimit = new RateLimitService.RateLimitServiceClient(channel);
        var request = RateLimitServiceTests.Request("conn", [("user", "u1")]);
        Assert.Equal(RateLimitResponse.Types.Code.Ok, (await rateLimit.ShouldRateLimitAsync(request)).OverallCode); // gRPC connection 1

        using var idle1 = await ConnectAsync(grpcPort); // 2
        using var idle2 = await ConnectAsync(grpcPort); // 3
        using var excess = await ConnectAsync(grpcPort);
        Assert.True(await ClosedByServerAsync(excess, TimeSpan.FromSeconds(10)), "a gRPC connection beyond MaxConcurrent=3 should be closed by the server");

        // The connections inside the cap still work, and a config push still lands.
        Assert.Equal(RateLimitResponse.Types.Code.Ok, (await rateLimit.ShouldRateLimitAsync(request)).OverallCode);
        directory.Write("conn2.yaml", "domain: conn2\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 1 }\n");
        Assert.True(await Eventually.TrueAsync(async () => Generation(await client.GetStringAsync("/readyz")) >= 2), "the reload did not apply");
        var second = RateLimitServiceTests.Request("conn2", [("user", "u1")]);
        Assert.Equal(RateLimitResponse.Types.Code.Ok, (await rateLimit.ShouldRateLimitAsync(second)).OverallCode);
        Assert.Equal(RateLimitResponse.Types.Code.OverLimit, (await rateLimit.ShouldRateLimitAsync(second)).OverallCode);
    }

    [Fact]
    public async Task An_idle_connection_is_closed_after_the_keep_alive_timeout()
    {
        var grpcPort = FreePort.Next();
        var http = StartupFailureTests.Loopback();
        var environment = new Dictionary<string, string> { ["SIDECARS__CONNECTIONS__KEEPALIVETIMEOUT"] = "00:00:02" };
        await using var server = SidecarsProcess.Start(["serve", "--grpc", $"127.0.0.1:{grpcPort}", "--http", http], environment);
        using var client = new HttpClient { BaseAddress = new Uri("http://" + http) };
        await AotBinary.WaitReadyAsync(client);

        using var idle = await ConnectAsync(grpcPort);
        // An HTTP/2 client preface and an empty SETTINGS frame, then silence.
        await idle.SendAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray().Concat(new byte[] { 0, 0, 0, 4, 0, 0, 0, 0, 0 }).ToArray());
        Assert.True(await ClosedByServerAsync(idle, TimeSpan.FromSeconds(20)), "an idle HTTP/2 connection should be closed after KeepAliveTimeout (2 s)");
    }

    [Fact]
    public async Task The_open_files_limit_is_raised_to_the_hard_limit_and_logged()
    {
        var hard = await HardLimitAsync();
        var http = StartupFailureTests.Loopback();
        await using var server = SidecarsProcess.Start(["serve", "--grpc", StartupFailureTests.Loopback(), "--http", http], shellPrefix: "ulimit -Sn 256");
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        // The JIT runtime raises the limit itself before our code runs; the native AOT binary shows "256 at start".
        Assert.Matches($@"open files limit \(RLIMIT_NOFILE\): \d+ at start, {hard} now; at most \d+ client connections", server.Stdout);
    }

    internal static async Task<ulong> HardLimitAsync()
    {
        var (_, output) = await ShellAsync("ulimit -Hn");
        return ulong.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static async Task<(int Exit, string Output)> ShellAsync(string command)
    {
        using var shell = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true })!;
        var output = await shell.StandardOutput.ReadToEndAsync();
        await shell.WaitForExitAsync();
        return (shell.ExitCode, output);
    }

    private static long Generation(string readyz) => JsonDocument.Parse(readyz).RootElement.GetProperty("generation").GetInt64();

    private static async Task<Socket> ConnectAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
        return socket;
    }

    /// <summary>Reads until the server closes (0 bytes or a reset); false if it stays open for <paramref name="within"/>.</summary>
    private static async Task<bool> ClosedByServerAsync(Socket socket, TimeSpan within)
    {
        using var cancel = new CancellationTokenSource(within);
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancel.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
