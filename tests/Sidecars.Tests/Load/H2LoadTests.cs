using Sidecars.Load.Compare;
using Sidecars.Load.Model;

namespace Sidecars.Tests.Load;

/// <summary>h2load's output as nghttp2 1.52 prints it, and the cross-check that catches what h2load counts as success.</summary>
public sealed class H2LoadTests
{
    // A real run (h2load -c 2 -m 4 -D 2s --warm-up-time 1s against ShouldRateLimit of the JIT sidecar).
    private const string Output = """
        finished in 3.00s, 11400.00 req/s, 668.03KB/s
        requests: 22800 total, 22800 started, 22800 done, 22800 succeeded, 0 failed, 0 errored, 0 timeout
        status codes: 22800 2xx, 0 3xx, 0 4xx, 0 5xx
        traffic: 1.30MB (1368120) total, 96.68KB (99001) headers (space savings 95.76%), 931.99KB (954361) data
                             min         max         mean         sd        +/- sd
        time for request:      244us      5.38ms       672us       263us    83.41%
        time for connect:        0us         0us         0us         0us     0.00%
        """;

    [Fact]
    public void Parses_rate_counts_data_bytes_and_request_times()
    {
        var o = H2Load.Parse(Output);
        Assert.Equal(11400.0, o.RequestsPerSecond);
        Assert.Equal((22800L, 22800L, 0L, 22800L, 954361L), (o.Done, o.Succeeded, o.Failed, o.Status2xx, o.DataBytes));
        Assert.Equal(0.244, o.MinMs, 6);
        Assert.Equal(5.38, o.MaxMs, 6);
        Assert.Equal(0.672, o.MeanMs, 6);
    }

    [Fact]
    public void Output_it_does_not_understand_is_an_error_not_zeros() =>
        Assert.Throws<FormatException>(() => H2Load.Parse("connect failed\n"));

    [Fact]
    public async Task A_grpc_error_that_h2load_counts_as_success_fails_the_cross_check()
    {
        var floor = Environment.GetEnvironmentVariable("SIDECARS_FLOOR_BINARY") is { Length: > 0 } p ? p : "";
        Assert.True(File.Exists(floor), "SIDECARS_FLOOR_BINARY is not set to the AOT floor: run scripts/test.sh, which publishes it");
        var logs = Directory.CreateTempSubdirectory("sidecars-h2load-").FullName;
        try
        {
            await using var server = ServerProcess.Start("floor", ServerCommand.Floor(floor), Path.Combine(logs, "floor.log"));
            await server.WaitReadyAsync(TimeSpan.FromSeconds(30));

            // An empty ShouldRateLimit body on a method the floor does not have: gRPC answers Unimplemented in an HTTP 200.
            var body = Path.Combine(logs, "empty.bin");
            await File.WriteAllBytesAsync(body, [0, 0, 0, 0, 0]);
            var expect = new H2LoadExpectation("rls-memory-1", "/envoy.service.ratelimit.v3.RateLimitService/NoSuchMethod", 5, 11, 0, "ok");
            var before = await server.SampleAsync(TimeSpan.Zero);
            var (output, _) = await H2Load.RunAsync(server.Endpoint, expect.Path, body, 1, 1, TimeSpan.FromSeconds(1), TimeSpan.Zero, CancellationToken.None);
            var after = await server.SampleAsync(TimeSpan.Zero);

            Assert.True(output.Succeeded > 0 && output.Failed == 0, "h2load itself reads the gRPC error as a success");
            var check = H2LoadCrossCheck.Judge(output, before, after, expect, isFloor: true, inFlight: 1);
            Assert.False(check.Agrees, check.Detail);
            Assert.Equal(0, check.ServerCalls);
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }

    [Theory]
    // 8,000 answers of 11 bytes counted by the server (a short round); h2load stopped with up to 128 streams open,
    // 1.6 % of the answers: more than a fixed tolerance on bytes per call would let through.
    [InlineData(8_000 * 11L, true)]                 // every answer's bytes arrived
    [InlineData((8_000 - 128) * 11L, true)]         // the last 128 answers were still in flight
    [InlineData((8_000 - 200) * 11L, false)]        // 72 more answers without data: gRPC errors
    [InlineData(8_100 * 11L, false)]                // more bytes than answers: not the expected frame
    public void Response_bytes_allow_for_the_streams_in_flight_and_nothing_more(long dataBytes, bool agrees)
    {
        var output = new H2Load.Output(0.5, 15_000, 7_500, 7_500, 7_500, 7_500, 0, 0, 0, 7_500, 0, dataBytes, 0.1, 5, 1);
        var before = new ServerSample(0, 0, new() { ["should_rate_limit"] = 1_000, ["should_rate_limit_ok"] = 1_000 }, 0, 0, 0, 0, 0);
        var after = new ServerSample(1, 0, new() { ["should_rate_limit"] = 9_000, ["should_rate_limit_ok"] = 9_000 }, 0, 0, 0, 0, 0);
        var expect = new H2LoadExpectation("rls-memory-1", "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit", 5, 11, 0, "ok");

        var check = H2LoadCrossCheck.Judge(output, before, after, expect, isFloor: true, inFlight: 4 * 32);

        Assert.True(check.Agrees == agrees, check.Detail);
    }

    [Fact]
    public void Budgets_file_reads_every_budget_of_the_issue()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root!.FullName, "Sidecars.sln")))
        {
            root = root.Parent;
        }

        var budgets = Budgets.Load(Path.Combine(root.FullName, "load", "budgets.yaml"));
        Assert.Equal(0.85, budgets.MaxThroughput["check-cached"]);
        Assert.Equal(0.85, budgets.MaxThroughput["check+limit"]);
        Assert.Equal(0.90, budgets.MaxThroughput["rls-memory-1"]);
        Assert.Equal(0.85, budgets.MaxThroughput["rls-memory-3"]);
        Assert.Equal((1.25, 0.25, 2.0, 0L), (budgets.P99Ratio, budgets.P99SlackMilliseconds, budgets.P999Ratio, budgets.MaxUnanswered));
        Assert.Equal((60.0, 2.0, 40.0), (budgets.MemoryLoadSeconds, budgets.AfterLoadOverIdle, budgets.IdleRssMegabytes));
        Assert.Equal((5, 1.5, 3.0), (budgets.StartupSamples, budgets.StartupOverFloor, budgets.StartupFasterThanJit));
        Assert.Equal(["check-cached", "check+limit", "rls-memory-1", "rls-memory-3"], budgets.OpenLoopScenarios);
    }
}
