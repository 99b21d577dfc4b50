using System.Net;
using System.Net.Sockets;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, finding 14: every start-up failure an operator can cause ends with exit code 1 and ONE stderr line that
/// names the listener or setting, the value and what is wrong; no stack trace, no SIGABRT (134).
/// An unknown setting is a warning, and the server still starts.
/// </summary>
public sealed class StartupFailureTests
{
    internal static string Loopback() => $"127.0.0.1:{FreePort.Next()}";

    internal static async Task<string> FailsToStart(IEnumerable<string> args, IDictionary<string, string>? environment = null, bool aot = false)
    {
        var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(args, environment, aot);
        Assert.True(exit == 1, $"exit code {exit}, expected 1; stderr: {stderr}");
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, "expected exactly one stderr line, got: " + stderr);
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", stdout + stderr, StringComparison.Ordinal);
        Assert.StartsWith("sidecars: ", lines[0], StringComparison.Ordinal);
        return lines[0];
    }

    [Fact]
    public async Task Grpc_port_in_use_names_the_grpc_listener_and_exits_1()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var taken = holder.LocalEndPoint!.ToString()!;
        var line = await FailsToStart(["serve", "--grpc", taken, "--http", Loopback()]);
        Assert.Equal($"sidecars: gRPC listener {taken}: address already in use (another process listens on this port)", line);
    }

    [Fact]
    public async Task Http_port_in_use_names_the_http_listener_and_exits_1()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var taken = holder.LocalEndPoint!.ToString()!;
        var line = await FailsToStart(["serve", "--grpc", Loopback(), "--http", taken]);
        Assert.Equal($"sidecars: HTTP listener {taken}: address already in use (another process listens on this port)", line);
    }

    [Fact]
    public async Task Unix_socket_in_a_missing_directory_names_the_directory_and_exits_1()
    {
        var missing = Path.Combine(Path.GetTempPath(), "sidecars-missing-" + Guid.NewGuid().ToString("N"));
        var line = await FailsToStart(["serve", "--grpc", $"unix:{missing}/rl.sock", "--http", Loopback()]);
        Assert.Equal($"sidecars: gRPC listener unix:{missing}/rl.sock: directory {missing} does not exist", line);
    }

    [Theory]
    [InlineData("SIDECARS__HEADERS__ENABLED", "yesplease", "setting Sidecars:Headers:Enabled (SIDECARS__HEADERS__ENABLED) = 'yesplease' is not a boolean (true or false)")]
    [InlineData("SIDECARS__SHUTDOWNDELAY", "5 seconds", "setting Sidecars:ShutdownDelay (SIDECARS__SHUTDOWNDELAY) = '5 seconds' is not a duration ([d.]hh:mm:ss[.fff], e.g. 00:00:05)")]
    [InlineData("SIDECARS__SHUTDOWNTIMEOUT", "15s", "setting Sidecars:ShutdownTimeout (SIDECARS__SHUTDOWNTIMEOUT) = '15s' is not a duration ([d.]hh:mm:ss[.fff], e.g. 00:00:05)")]
    [InlineData("SIDECARS__MEMORY__MAXKEYS", "lots", "setting Sidecars:Memory:MaxKeys (SIDECARS__MEMORY__MAXKEYS) = 'lots' is not an integer")]
    [InlineData("SIDECARS__REDIS__ONBACKENDERROR", "maybe", "setting Sidecars:Redis:OnBackendError (SIDECARS__REDIS__ONBACKENDERROR) = 'maybe' is not one of Allow, Deny, Local")]
    [InlineData("SIDECARS__ALLOWEMPTYCONFIG", "sometimes", "setting Sidecars:AllowEmptyConfig (SIDECARS__ALLOWEMPTYCONFIG) = 'sometimes' is not a boolean (true or false)")]
    [InlineData("SIDECARS__RAISEFILELIMIT", "yes", "setting Sidecars:RaiseFileLimit (SIDECARS__RAISEFILELIMIT) = 'yes' is not a boolean (true or false)")]
    [InlineData("SIDECARS__CONNECTIONS__KEEPALIVETIMEOUT", "1m", "setting Sidecars:Connections:KeepAliveTimeout (SIDECARS__CONNECTIONS__KEEPALIVETIMEOUT) = '1m' is not a duration ([d.]hh:mm:ss[.fff], e.g. 00:00:05)")]
    [InlineData("SIDECARS__CONNECTIONS__MAXCONCURRENT", "0", "setting Sidecars:Connections:MaxConcurrent = '0' must be at least 1")]
    [InlineData("SIDECARS__UNIXSOCKETMODE", "rw-rw----", "setting Sidecars:UnixSocketMode = 'rw-rw----' is not an octal file mode from 0000 to 0777 (e.g. 0660)")]
    [InlineData("SIDECARS__GRPC", "localhost", "setting Sidecars:Grpc (SIDECARS__GRPC, --grpc) = 'localhost' is not HOST:PORT or unix:/path")]
    [InlineData("SIDECARS__HTTP", "10.0.0.300:80", "setting Sidecars:Http (SIDECARS__HTTP, --http) = '10.0.0.300:80' has a host '10.0.0.300' that is not an IP address (nor localhost, * or 0.0.0.0)")]
    public async Task A_bad_setting_value_names_the_setting_and_the_value_and_exits_1(string variable, string value, string message)
    {
        var environment = new Dictionary<string, string> { [variable] = value };
        // --grpc and --http win over the environment: give only the listener that is not under test.
        string[] args = variable switch
        {
            "SIDECARS__GRPC" => ["serve", "--http", Loopback()],
            "SIDECARS__HTTP" => ["serve", "--grpc", Loopback()],
            _ => ["serve", "--grpc", Loopback(), "--http", Loopback()],
        };
        var line = await FailsToStart(args, environment);
        Assert.Equal("sidecars: " + message, line);
    }

    [Fact]
    public async Task A_file_given_as_the_config_directory_is_not_a_directory()
    {
        var file = Path.GetTempFileName();
        try
        {
            var line = await FailsToStart(["serve", "--config", file, "--grpc", Loopback(), "--http", Loopback()]);
            Assert.Equal($"sidecars: setting Sidecars:Config (--config) = '{file}' is not a directory", line);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task An_unknown_setting_is_a_warning_and_the_server_still_starts()
    {
        var http = Loopback();
        var environment = new Dictionary<string, string> { ["SIDECARS__HEADERS__ENABELD"] = "true", ["SIDECARS__GRPCC"] = "x" };
        await using var server = SidecarsProcess.Start(["serve", "--grpc", Loopback(), "--http", http], environment);
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        Assert.Contains("unknown setting Sidecars:HEADERS:ENABELD (SIDECARS__HEADERS__ENABELD) is ignored", server.Stdout, StringComparison.Ordinal);
        Assert.Contains("unknown setting Sidecars:GRPCC (SIDECARS__GRPCC) is ignored", server.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("unknown setting Sidecars:Grpc ", server.Stdout, StringComparison.Ordinal);
        Assert.True(await server.TerminateAsync());
        Assert.Equal(0, server.ExitCode);
    }

    [Fact]
    public async Task The_start_up_line_lists_auth_jwks_readiness_and_connection_settings()
    {
        var http = Loopback();
        await using var server = SidecarsProcess.Start(["serve", "--grpc", Loopback(), "--http", http]);
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        foreach (var part in new[] { "auth(expose_reason=", "jwks(fetch_timeout=", "require_keys_for_readiness=", "connections(max=4096", "unix_socket_mode=0660" })
        {
            Assert.Contains(part, server.Stdout, StringComparison.Ordinal);
        }
    }
}
