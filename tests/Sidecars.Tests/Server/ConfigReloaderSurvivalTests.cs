using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Sidecars.Config;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>
/// Issue 7, findings 10, 11 and 17: the reloader's background loop survives whatever a reload meets — an exception
/// from the compiler, a directory scan that fails with <c>Too many open files</c>, an empty directory — keeps the
/// last good config serving, and applies the next good edit.
/// </summary>
public sealed class ConfigReloaderSurvivalTests
{
    private static string Limit(uint rpu) => $"domain: edge\ndescriptors:\n  - key: user\n    rate_limit: {{ unit: minute, requests_per_unit: {rpu} }}\n";

    private static async Task<uint> CurrentLimit(SidecarServer server) =>
        (await server.RateLimitClient().ShouldRateLimitAsync(RateLimitServiceTests.Request("edge", [("user", Guid.NewGuid().ToString())]))).Statuses[0].CurrentLimit?.RequestsPerUnit ?? 0;

    private static ConfigState State(SidecarServer server) => (ConfigState)server.Services.GetService(typeof(ConfigState))!;

    [Theory]
    [InlineData("clock_skew: 999999999999999h", "'clock_skew' must be from 0s to 24h, not 999999999999999h")]
    [InlineData("max_lifetime: 99999999999999999999999999h", "'max_lifetime' must be from 1s to 87600h")]
    public async Task A_value_that_overflowed_in_the_compiler_is_a_located_error_and_the_host_keeps_running(string setting, string message)
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path);
        directory.Write("auth.yaml", $"providers:\n  - name: p\n    local_jwks: {{ inline: '{{\"keys\":[]}}' }}\n    {setting}\n");
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(State(server).LastErrors.Any(e => e.Message.StartsWith(message, StringComparison.Ordinal)))));
        Assert.Contains(State(server).LastErrors, e => e.ToString().StartsWith(Path.Combine(directory.Path, "auth.yaml") + ":4:", StringComparison.Ordinal));
        Assert.Equal(5u, await CurrentLimit(server));

        File.Delete(Path.Combine(directory.Path, "auth.yaml"));
        directory.Write("edge.yaml", Limit(7));
        Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(server) == 7));
    }

    [Fact]
    public async Task A_path_regex_the_linear_engine_refuses_is_a_located_error_and_the_host_keeps_running()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path);
        directory.Write("auth.yaml", "routes:\n  - match: { path_regex: \"(?=a)a\" }\n    requires: allow\n");
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(State(server).LastErrors.Count > 0)));
        Assert.Equal(
            Path.Combine(directory.Path, "auth.yaml") + ":2:26: path_regex uses a construct that cannot be matched in linear time (lookarounds, backreferences, atomic groups, conditionals); rewrite it without them",
            Assert.Single(State(server).LastErrors).ToString());

        directory.Write("auth.yaml", "routes:\n  - match: { path_regex: \"/a+\" }\n    requires: allow\n");
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(State(server).Current.Generation == 2)));
    }

    [Fact]
    public async Task A_reload_to_an_empty_directory_is_refused_and_the_last_good_config_keeps_serving()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path);

        // A non-atomic update: rm, then cp.
        File.Delete(Path.Combine(directory.Path, "edge.yaml"));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(State(server).LastErrors.Count > 0)));
        Assert.Equal(
            $"{directory.Path}:1:1: config refused: the directory holds no config files (*.yaml, *.yml) any more; the last good config (1 files) keeps serving (set Sidecars:AllowEmptyConfig=true to allow an empty config)",
            Assert.Single(State(server).LastErrors).ToString());
        Assert.Equal(5u, await CurrentLimit(server));
        var ready = JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement;
        Assert.Equal(1, ready.GetProperty("generation").GetInt64());

        directory.Write("edge.yaml", Limit(7));
        Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(server) == 7));
    }

    [Fact]
    public async Task A_reload_to_an_empty_directory_is_applied_when_AllowEmptyConfig_is_set()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?> { ["Sidecars:AllowEmptyConfig"] = "true" });
        File.Delete(Path.Combine(directory.Path, "edge.yaml"));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(State(server).Current.Generation == 2)));
        Assert.Empty(State(server).Current.Files);
        Assert.Equal(0u, await CurrentLimit(server));
    }

    /// <summary>
    /// Finding 11 as it happened: idle client connections used up the process's file descriptors, and the next
    /// reload's directory scan failed with EMFILE and stopped the host. The real server runs as a child process
    /// under <c>prlimit --nofile=256</c> (the test process's own limit must not change: other tests run beside
    /// it) and clients open as many connections as they can to both listeners: the connection cap, fitted to the
    /// descriptor limit, closes the excess, and a config edit is still applied while they are held.
    /// </summary>
    [Fact]
    public async Task Idle_connections_cannot_use_up_the_descriptors_a_reload_needs()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        var http = FreePort.Next();
        var grpc = FreePort.Next();
        // The native binary when CI has published it (what is deployed); the JIT apphost otherwise.
        var binary = Environment.GetEnvironmentVariable("SIDECARS_AOT_BINARY") is { Length: > 0 } aot && File.Exists(aot) ? aot : Path.Combine(AppContext.BaseDirectory, "sidecars");
        var start = new ProcessStartInfo("prlimit", ["--nofile=256:256", binary, "serve", "--config", directory.Path, "--grpc", $"127.0.0.1:{grpc}", "--http", $"127.0.0.1:{http}"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["SIDECARS__RELOADPOLLINTERVAL"] = "00:00:00.2",
                ["SIDECARS__RELOADDEBOUNCE"] = "00:00:00.01",
            },
        };
        var log = new StringBuilder();
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        string Log() { lock (log) { return log.ToString(); } }
        async Task<JsonElement?> Ready()
        {
            // A fresh connection each time: the held ones may be the ones the server closed.
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{http}"), Timeout = TimeSpan.FromSeconds(2) };
            try
            {
                return JsonDocument.Parse(await client.GetStringAsync("/readyz")).RootElement;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return null;
            }
        }

        var idle = new List<Socket>();
        try
        {
            Assert.True(await Eventually.TrueAsync(async () => await Ready() is not null, TimeSpan.FromSeconds(30)), "server did not start: " + Log());
            foreach (var port in (int[])[http, grpc])
            {
                for (var i = 0; i < 400; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                    try
                    {
                        await socket.ConnectAsync("127.0.0.1", port, timeout.Token);
                        idle.Add(socket);
                    }
                    catch (Exception e) when (e is SocketException or OperationCanceledException)
                    {
                        socket.Dispose();
                        break;
                    }
                }
            }

            // With 800 connections held against a limit of 256 descriptors, the next edit is still read and applied.
            // Judged from the edit on: a poll during the burst above can meet the descriptors of connections accepted
            // and not yet refused (Kestrel applies its cap after accept), a failure retried at the next poll.
            // Half a second for the server to finish refusing the excess and for its log of the burst to arrive.
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            var logBeforeEdit = Log().Length;
            directory.Write("edge.yaml", Limit(6));
            // (Read from the log: while the clients hold every slot of the HTTP listener, /readyz cannot be asked.)
            Assert.True(
                await Eventually.TrueAsync(() => Task.FromResult(Log().Contains("config generation 2 active", StringComparison.Ordinal)), TimeSpan.FromSeconds(20)),
                "the edit was not applied while clients held their connections: " + Log());
            Assert.False(process.HasExited, "the host stopped: " + Log());
            Assert.DoesNotContain("too many open files", Log()[logBeforeEdit..], StringComparison.Ordinal);
            // Closing the excess connections is not logged once per connection (finding 12's class).
            Assert.DoesNotContain("maximum number of concurrent connections", Log(), StringComparison.Ordinal);
        }
        finally
        {
            foreach (var socket in idle)
            {
                socket.Dispose();
            }

            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    /// <summary>
    /// Finding 11, the reloader's part: a directory scan that fails with an I/O error (EMFILE, or here the
    /// directory gone from under a symbolic link, as in a broken volume mount) is a rejected reload, not an
    /// exception that stops the host, and the reloader keeps polling and applies the next good edit.
    /// </summary>
    [Fact]
    public async Task Reloader_survives_a_directory_scan_that_fails_and_applies_the_next_edit()
    {
        using var first = new TempConfigDirectory();
        using var second = new TempConfigDirectory();
        first.Write("edge.yaml", Limit(5));
        second.Write("edge.yaml", Limit(7));
        var link = Path.Combine(Path.GetTempPath(), $"sidecars-link-{Guid.NewGuid():N}");
        File.CreateSymbolicLink(link, first.Path);
        try
        {
            await using var server = await SidecarServer.StartAsync(link);
            Assert.Equal(5u, await CurrentLimit(server));

            File.Delete(link);
            File.CreateSymbolicLink(link, Path.Combine(first.Path, "missing"));
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(State(server).LastErrors.Any(e => e.Message == "config directory is a symbolic link to something that is not a directory"))), "the failed scan was not reported: " + string.Join(" | ", State(server).LastErrors) + " gen " + State(server).Current.Generation);
            Assert.Equal(5u, await CurrentLimit(server));

            File.Delete(link);
            File.CreateSymbolicLink(link, second.Path);
            Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(server) == 7), "the next edit was not applied");
            Assert.Empty(State(server).LastErrors);
        }
        finally
        {
            File.Delete(link);
        }
    }
}
