using System.Diagnostics;
using System.Globalization;
using Envoy.Service.Auth.V3;
using Grpc.Core;
using Grpc.Net.Client;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;
using AuthorizationClient = global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient;

namespace Sidecars.Tests.Server;

/// <summary>
/// Issue 10, graceful shutdown under load, on the AOT binary: SIGTERM makes readiness false first while every call
/// is still answered for <c>ShutdownDelay</c> (service-route calls charging a limit in a real Redis); the process exits
/// 0 within the delay and <c>ShutdownTimeout</c>.
/// </summary>
public sealed class GracefulShutdownTests
{
    private static readonly TimeSpan Delay = TimeSpan.FromSeconds(3);

    [Fact]
    public async Task Sigterm_turns_readiness_false_first_keeps_answering_through_the_delay_and_finishes_in_flight_calls()
    {
        using var redis = RedisServer.Start();
        using var directory = new TempConfigDirectory();
        directory.Write("00-providers.yaml", Sidecars.Tests.Authorization.Services.ServiceHarness.Providers);
        directory.Write("orders.yaml", """
            service: orders
            owns: [{ host: orders.example.com }]
            routes:
              - name: all
                match: { path_prefix: / }
                requires: { provider: corp }
                rate_limits: [{ name: per-user, per: [claim:sub], unit: second, requests_per_unit: 1000000 }]
            """);
        var grpcPort = FreePort.Next();
        var httpPort = FreePort.Next();
        var start = new ProcessStartInfo(AotBinary.Path(), ["serve", "--config", directory.Path, "--grpc", $"127.0.0.1:{grpcPort}", "--http", $"127.0.0.1:{httpPort}", "--redis", redis.Configuration])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            Environment =
            {
                ["SIDECARS__SHUTDOWNDELAY"] = "00:00:03",
                ["SIDECARS__SHUTDOWNTIMEOUT"] = "00:00:05",
            },
        };
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(5) };
            await AotBinary.WaitReadyAsync(http);
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
            var client = new AuthorizationClient(channel);
            var token = TestTokens.LiveRs256("user-1");
            Assert.Equal(0, (await client.CheckAsync(Request(token))).Status.Code);

            // A steady load on four workers; each call's start time (from the SIGTERM) and outcome is kept.
            var clock = Stopwatch.StartNew();
            var sigtermAt = TimeSpan.MaxValue;
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            var calls = new System.Collections.Concurrent.ConcurrentBag<(TimeSpan Start, bool Ok)>();
            var workers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
            {
                for (var i = 0; i < 20_000 && !stop.IsCancellationRequested; i++)
                {
                    var started = clock.Elapsed;
                    try
                    {
                        var answer = await client.CheckAsync(Request(token), deadline: DateTime.UtcNow.AddSeconds(5));
                        calls.Add((started, answer.Status.Code == 0));
                    }
                    catch (RpcException)
                    {
                        calls.Add((started, false));
                        if (clock.Elapsed > sigtermAt + Delay)
                        {
                            return;
                        }
                    }
                }
            })).ToArray();
            await Task.Delay(500);

            sigtermAt = clock.Elapsed;
            using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)])!)
            {
                await kill.WaitForExitAsync();
            }

            // When the process ends, on the test's own clock.
            var exited = process.WaitForExitAsync().ContinueWith(_ => clock.Elapsed - sigtermAt, TaskScheduler.Default);

            var notReadyAfter = await NotReadyAsync(http, clock, sigtermAt);
            Assert.True(await Task.WhenAny(exited, Task.Delay(15_000)) == exited, "the process did not exit after SIGTERM");
            var exitedAfter = await exited;
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            Assert.Equal(0, process.ExitCode);
            Assert.True(exitedAfter >= Delay, $"the process exited {exitedAfter} after SIGTERM, before the {Delay} delay");
            Assert.True(notReadyAfter < TimeSpan.FromSeconds(1), $"readiness was still true {notReadyAfter} after SIGTERM");

            // Every call started before the delay ran out was answered, and many after SIGTERM.
            var duringDelay = calls.Where(c => c.Start >= sigtermAt && c.Start < sigtermAt + Delay - TimeSpan.FromMilliseconds(100)).ToList();
            Assert.True(duringDelay.Count > 10, $"only {duringDelay.Count} calls were sent during the delay");
            Assert.All(duringDelay, c => Assert.True(c.Ok, $"a call started {c.Start - sigtermAt} after SIGTERM was not answered"));
            Assert.All(calls.Where(c => c.Start < sigtermAt), c => Assert.True(c.Ok, "a call before SIGTERM failed"));

            var log = await output + await errors;
            Assert.Contains("SIGTERM: not ready; still answering for 00:00:03", log, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }

    /// <summary>How long after SIGTERM <c>/readyz</c> first answered 503 (polled every 20 ms for at most 2 s).</summary>
    private static async Task<TimeSpan> NotReadyAsync(HttpClient http, Stopwatch clock, TimeSpan sigtermAt)
    {
        for (var i = 0; i < 100; i++)
        {
            using var answer = await http.GetAsync("/readyz");
            if ((int)answer.StatusCode == 503)
            {
                return clock.Elapsed - sigtermAt;
            }

            await Task.Delay(20);
        }

        return TimeSpan.MaxValue;
    }

    private static CheckRequest Request(string token)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "orders.example.com", Path = "/orders/7" };
        http.Headers["authorization"] = "Bearer " + token;
        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }
}
