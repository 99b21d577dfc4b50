using System.Diagnostics;
using Envoy.Service.Ratelimit.V3;
using Grpc.Net.Client;
using Sidecars.Tests.Infrastructure;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Server;

/// <summary>
/// The native AOT binary itself, published by scripts/test.sh before the tests run: a break that only
/// shows under trimming or AOT (reflection, a missing source generator) fails here.
/// </summary>
public sealed class AotBinarySmokeTests
{
    private static string Binary() => AotBinary.Path();

    [Fact]
    public Task Aot_binary_answers_should_rate_limit_and_stops_cleanly_on_sigterm() => ServeAndLimit(redis: null);

    [Fact]
    public async Task Aot_binary_limits_through_redis()
    {
        using var redis = RedisServer.Start();
        await ServeAndLimit(redis);
        Assert.True(redis.CommandCount("evalsha") >= 3, "the AOT binary should decide in Redis");
    }

    private static async Task ServeAndLimit(RedisServer? redis)
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", """
            domain: smoke
            descriptors:
              - key: user
                rate_limit: { unit: minute, requests_per_unit: 2 }
            """);
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        string[] args = ["serve", "--config", directory.Path, "--grpc", $"127.0.0.1:{grpcPort}", "--http", $"127.0.0.1:{httpPort}"];
        if (redis is not null)
        {
            args = [.. args, "--redis", redis.Configuration];
        }

        var start = new ProcessStartInfo(Binary(), args)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        // Settings also come from the environment, the ASP.NET Core way; a generous timeout keeps a loaded CI machine from answering by the failure policy.
        start.Environment["SIDECARS__REDIS__OPERATIONTIMEOUT"] = "00:00:02";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
            await AotBinary.WaitReadyAsync(http);

            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var client = new RateLimitService.RateLimitServiceClient(channel);
            var request = RateLimitServiceTests.Request("smoke", [("user", "u1")]);
            Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(request)).OverallCode);
            Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(request)).OverallCode);
            var over = await client.ShouldRateLimitAsync(request);
            Assert.Equal(Code.OverLimit, over.OverallCode);
            Assert.Equal(2u, over.Statuses[0].CurrentLimit.RequestsPerUnit);
            if (redis is not null)
            {
                Assert.Contains("\"kind\":\"redis\"", await http.GetStringAsync("/readyz"), StringComparison.Ordinal);
            }
        }
        finally
        {
            Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
            if (!process.WaitForExit(15_000))
            {
                process.Kill();
            }
        }

        Assert.Equal(0, process.ExitCode);
        var log = await output + await errors;
        Assert.Contains("listening for gRPC (HTTP/2 cleartext) on 127.0.0.1:" + grpcPort, log, StringComparison.Ordinal);
        Assert.Contains("shutting down", log, StringComparison.Ordinal);
        if (redis is not null)
        {
            Assert.Contains("store=redis(", log, StringComparison.Ordinal);
            Assert.Contains("timeout=00:00:02", log, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Aot_binary_validate_prints_located_errors_and_exits_1()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("bad.yaml", "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: eon }\n");
        // Errors go to stderr (issue 7, finding 18); stdout carries only the "valid" summary.
        var start = new ProcessStartInfo(Binary(), ["validate", directory.Path]) { RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var output = await process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(15_000));
        Assert.Equal(1, process.ExitCode);
        Assert.Equal(
            Path.Combine(directory.Path, "bad.yaml") + ":4:25: invalid rate limit unit 'eon' (valid: second, minute, hour, day, week, month, year)",
            output.Trim());
    }
}

/// <summary>Where the AOT binary published by scripts/test.sh is, and waiting for it to serve.</summary>
internal static class AotBinary
{
    public static async Task WaitReadyAsync(HttpClient http)
    {
        Assert.True(await Eventually.TrueAsync(async () =>
        {
            try
            {
                return (await http.GetAsync("/readyz")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }), "the AOT binary did not become ready");
    }

    public static string Path()
    {
        var path = Environment.GetEnvironmentVariable("SIDECARS_AOT_BINARY");
        if (string.IsNullOrEmpty(path))
        {
            var root = new DirectoryInfo(AppContext.BaseDirectory);
            while (root is not null && !File.Exists(System.IO.Path.Combine(root.FullName, "Sidecars.sln")))
            {
                root = root.Parent;
            }

            path = root is null ? "artifacts/aot/sidecars" : System.IO.Path.Combine(root.FullName, "artifacts", "aot", "sidecars");
        }

        Assert.True(File.Exists(path), $"native AOT binary not found at {path}: run scripts/test.sh, which publishes it before the tests");
        return path;
    }
}
