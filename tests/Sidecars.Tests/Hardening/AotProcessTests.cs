using System.Net;
using System.Net.Sockets;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// The process-level findings of issue 7 (11, 14, 15) on the native AOT binary itself: its runtime does not raise
/// the open-files limit by itself as the JIT host does, and it is where <c>UseSystemResourceKeys</c> stripped messages.
/// </summary>
public sealed class AotProcessTests
{
    [Fact]
    public async Task Aot_binary_raises_a_low_open_files_limit_to_the_hard_limit_and_logs_both()
    {
        var hard = await ConnectionLimitTests.HardLimitAsync();
        await using var server = SidecarsProcess.Start(["serve", "--grpc", StartupFailureTests.Loopback(), "--http", StartupFailureTests.Loopback()], aot: true, shellPrefix: "ulimit -Sn 256");
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        Assert.Contains($"open files limit (RLIMIT_NOFILE): 256 at start, {hard} now", server.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Aot_binary_reports_a_bad_boolean_setting_in_one_line_and_exits_1()
    {
        var line = await StartupFailureTests.FailsToStart(
            ["serve", "--grpc", StartupFailureTests.Loopback(), "--http", StartupFailureTests.Loopback()],
            new Dictionary<string, string> { ["SIDECARS__HEADERS__ENABLED"] = "yesplease" },
            aot: true);
        Assert.Equal("sidecars: setting Sidecars:Headers:Enabled (SIDECARS__HEADERS__ENABLED) = 'yesplease' is not a boolean (true or false)", line);
    }

    [Fact]
    public async Task Aot_binary_reports_a_port_in_use_in_one_line_and_exits_1()
    {
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        holder.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        holder.Listen();
        var taken = holder.LocalEndPoint!.ToString()!;
        var line = await StartupFailureTests.FailsToStart(["serve", "--grpc", taken, "--http", StartupFailureTests.Loopback()], aot: true);
        Assert.Equal($"sidecars: gRPC listener {taken}: address already in use (another process listens on this port)", line);
    }

    [Fact]
    public async Task Aot_binary_prints_framework_messages_as_text_not_resource_keys()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", """
            routes:
              - match: { path_regex: "/admin/[0-9" }
                requires: allow
            default: deny
            """);
        var (exit, _, stderr) = await SidecarsProcess.RunAsync(["validate", directory.Path], aot: true);
        Assert.Equal(1, exit);
        // Our words and position for the regex (the framework's text is no longer stripped either: UseSystemResourceKeys is off).
        Assert.Contains("auth.yaml:2:26: invalid path_regex at character 11: unterminated bracket", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("UnterminatedBracket", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Aot_binary_cli_help_version_and_usage_errors()
    {
        var (exit, stdout, _) = await SidecarsProcess.RunAsync(["validate", "--help"], aot: true);
        Assert.Equal(0, exit);
        Assert.StartsWith("usage: sidecars validate DIR", stdout, StringComparison.Ordinal);
        (exit, stdout, _) = await SidecarsProcess.RunAsync(["--version"], aot: true);
        Assert.Equal(0, exit);
        Assert.StartsWith("sidecars ", stdout, StringComparison.Ordinal);
        var (code, output, stderr) = await SidecarsProcess.RunAsync(["validate"], aot: true);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// The first config is read and compiled on another thread while the host is built: a bad one still stops the
    /// start with every error located, in file order, then one summary line; exit 1, no stack trace, nothing listening.
    /// </summary>
    [Fact]
    public async Task Aot_binary_reports_every_error_of_a_bad_config_at_start_and_exits_1()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("a.yaml", "domain: a\ndescriptors:\n  - key: \"\"\n");
        directory.Write("b.yaml", "domain: b\nbogus: 1\n");
        var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(
            ["serve", "--config", directory.Path, "--grpc", StartupFailureTests.Loopback(), "--http", StartupFailureTests.Loopback()], aot: true);
        Assert.True(exit == 1, $"exit code {exit}; stderr: {stderr}");
        Assert.Equal(
            [
                Path.Combine(directory.Path, "a.yaml") + ":3:10: descriptor has empty key",
                Path.Combine(directory.Path, "b.yaml") + ":2:1: config error, unknown key 'bogus' in a rate limit config file (valid keys: domain, descriptors, on_backend_error, hash_tag)",
                "sidecars: config invalid (2 errors); not starting",
            ],
            stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", stdout + stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("listening", stdout, StringComparison.Ordinal);
    }

    /// <summary>An empty config directory at start is a warning naming it (found by the read on the other thread), and the server starts.</summary>
    [Fact]
    public async Task Aot_binary_warns_of_an_empty_config_directory_at_start_and_serves()
    {
        using var directory = new TempConfigDirectory();
        await using var server = SidecarsProcess.Start(["serve", "--config", directory.Path, "--grpc", StartupFailureTests.Loopback(), "--http", StartupFailureTests.Loopback()], aot: true);
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        Assert.Contains($"config directory {directory.Path} holds no config files (*.yaml, *.yml): nothing is rate limited", server.Stdout, StringComparison.Ordinal);
    }
}
