using System.Diagnostics;
using System.Security.Cryptography;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Grpc.Core;
using Sidecars.Load.Compare;
using Sidecars.Load.Generator;
using Sidecars.Load.Generator.Http2;
using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;
using Sidecars.Tests.Server;
using Xunit.Abstractions;

namespace Sidecars.Tests.Load;

/// <summary>
/// The load tool's raw HTTP/2 transport against the real Kestrel servers (the AOT floor and the AOT sidecar over
/// loopback): answers, denials, gRPC errors, more calls than the server's stream limit, and a server that dies.
/// </summary>
public sealed class H2TransportTests(ITestOutputHelper output)
{
    [Fact]
    public async Task The_floor_allows_a_check_and_answers_ok_per_descriptor()
    {
        await using var floor = await StartFloorAsync();
        using var connection = H2Connection.Open(floor.Endpoint);

        var answer = await connection.CallAsync(Connection.RawCheck, EnvoyMessages.Check(7, "Bearer x").ToByteArray());
        var check = CheckResponse.Parser.ParseFrom(answer);
        Assert.Equal(Outcome.Allow, AnswerReader.Check(answer));
        Assert.NotNull(check.OkResponse);

        var limit = RateLimitResponse.Parser.ParseFrom(await connection.CallAsync(Connection.RawShouldRateLimit, EnvoyMessages.RateLimit(7, 3).ToByteArray()));
        Assert.Equal(RateLimitResponse.Types.Code.Ok, limit.OverallCode);
        Assert.Equal(3, limit.Statuses.Count);
    }

    [Fact]
    public async Task The_sidecar_allows_a_valid_token_denies_bad_ones_in_a_grpc_ok_and_rejects_garbage_with_InvalidArgument()
    {
        var directory = Directory.CreateTempSubdirectory("sidecars-h2-").FullName;
        try
        {
            using var rsa = RSA.Create(2048);
            var signer = new TokenSigner(rsa, "h2-test");
            Directory.CreateDirectory(Path.Combine(directory, "keys"));
            await File.WriteAllTextAsync(Path.Combine(directory, "keys", "load.json"), signer.PublicJwks());
            await File.WriteAllTextAsync(Path.Combine(directory, "auth.yaml"), """
                providers:
                  - name: load
                    issuer: https://idp.load.test/
                    audiences: [orders-api]
                    local_jwks: { file: keys/load.json }
                routes:
                  - name: all
                    match: { path_prefix: / }
                    requires: { provider: load }
                """);
            await using var sidecar = ServerProcess.Start("sidecars", ServerCommand.Sidecars(AotBinary.Path(), directory, redis: null), Path.Combine(directory, "sidecars.log"));
            await sidecar.WaitReadyAsync(TimeSpan.FromSeconds(30));
            using var connection = H2Connection.Open(sidecar.Endpoint);

            var now = DateTimeOffset.UtcNow;
            async Task<Outcome> Check(string? authorization) =>
                AnswerReader.Check(await connection.CallAsync(Connection.RawCheck, EnvoyMessages.Check(1, authorization).ToByteArray()));

            Assert.Equal(Outcome.Allow, await Check("Bearer " + signer.Sign("user-1", now, now.AddHours(1))));
            Assert.Equal(Outcome.Deny401, await Check(null));
            Assert.Equal(Outcome.Deny403, await Check("Bearer " + signer.Sign("user-1", now, now.AddHours(1), audience: "other-api")));

            // Bytes that are not a RateLimitRequest: the sidecar's INVALID_ARGUMENT, its grpc-message read back.
            var error = await Assert.ThrowsAsync<RpcException>(() => connection.CallAsync(Connection.RawShouldRateLimit, [0xFF, 0xFF, 0xFF]));
            output.WriteLine($"garbage request: {error.StatusCode} '{error.Status.Detail}'");
            Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
            Assert.Contains("malformed", error.Status.Detail, StringComparison.Ordinal);
            Assert.Equal(Outcome.Deny401, await Check(null));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_method_the_server_does_not_have_is_Unimplemented_and_the_connection_goes_on()
    {
        await using var floor = await StartFloorAsync();
        using var connection = H2Connection.Open(floor.Endpoint);

        var error = await Assert.ThrowsAsync<RpcException>(() => connection.CallAsync(Connection.Raw("envoy.service.ratelimit.v3.RateLimitService", "NoSuchMethod"), []));
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
        Assert.NotEmpty(await connection.CallAsync(Connection.RawShouldRateLimit, EnvoyMessages.RateLimit(1, 1).ToByteArray()));
    }

    [Fact]
    public async Task Three_times_the_servers_stream_limit_on_one_connection_all_complete()
    {
        await using var floor = await StartFloorAsync();
        using var connection = H2Connection.Open(floor.Endpoint);
        var request = EnvoyMessages.Check(3, "Bearer x").ToByteArray();

        // Kestrel allows 100 streams per connection; the other 200 wait in the connection's queue, in order.
        for (var round = 0; round < 3; round++)
        {
            var calls = Enumerable.Range(0, 300).Select(_ => connection.CallAsync(Connection.RawCheck, request)).ToArray();
            var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.All(answers, a => Assert.Equal(Outcome.Allow, AnswerReader.Check(a)));
        }
    }

    [Fact]
    public async Task A_request_larger_than_the_servers_windows_is_split_and_answered()
    {
        await using var floor = await StartFloorAsync();
        using var connection = H2Connection.Open(floor.Endpoint);

        // 200 KB: more than the 65,535-byte initial connection window and several 16 KiB frames.
        var check = EnvoyMessages.Check(5, "Bearer " + new string('a', 200_000));
        var calls = Enumerable.Range(0, 8).Select(_ => connection.CallAsync(Connection.RawCheck, check.ToByteArray())).ToArray();
        var answers = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(answers, a => Assert.Equal(Outcome.Allow, AnswerReader.Check(a)));
    }

    [Fact]
    public async Task Killing_the_server_mid_run_ends_every_call_with_an_error_and_refuses_new_ones()
    {
        var logs = Directory.CreateTempSubdirectory("sidecars-h2-kill-").FullName;
        try
        {
            await using var floor = ServerProcess.Start("floor", ServerCommand.Floor(FloorBinary()), Path.Combine(logs, "floor.log"));
            await floor.WaitReadyAsync(TimeSpan.FromSeconds(30));
            using var connection = H2Connection.Open(floor.Endpoint);
            var request = EnvoyMessages.Check(2, "Bearer x").ToByteArray();

            // Calls keep coming (400 at a time, more than the stream limit) while the server is killed.
            var calls = new List<Task<byte[]>>();
            var clock = Stopwatch.StartNew();
            var killed = false;
            while (clock.Elapsed < TimeSpan.FromSeconds(5) && calls.Count < 200_000)
            {
                calls.AddRange(Enumerable.Range(0, 400).Select(_ => connection.CallAsync(Connection.RawCheck, request)));
                // Killed once the flood is under way (its first call answered), not after a fixed time.
                if (!killed && calls[0].IsCompleted)
                {
                    using var kill = Process.Start("kill", ["-KILL", floor.Pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
                    await kill.WaitForExitAsync();
                    killed = true;
                }

                await Task.Delay(5);
            }

            var all = Task.WhenAll(calls);
            await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10)));
            Assert.True(calls.All(c => c.IsCompleted), $"{calls.Count(c => !c.IsCompleted)} of {calls.Count} calls never ended");
            var failed = calls.Where(c => c.IsFaulted).ToList();
            output.WriteLine($"{calls.Count} calls: {calls.Count(c => c.IsCompletedSuccessfully)} answered, {failed.Count} failed");
            Assert.NotEmpty(failed);
            Assert.All(failed, c => Assert.Equal(StatusCode.Unavailable, Assert.IsType<RpcException>(c.Exception!.InnerException).StatusCode));

            var late = await Assert.ThrowsAsync<RpcException>(() => connection.CallAsync(Connection.RawCheck, request).WaitAsync(TimeSpan.FromSeconds(5)));
            Assert.Equal(StatusCode.Unavailable, late.StatusCode);
        }
        finally
        {
            Directory.Delete(logs, recursive: true);
        }
    }

    [Fact]
    public void A_port_nobody_listens_on_fails_calls_with_Unavailable()
    {
        using var connection = H2Connection.Open($"http://127.0.0.1:{ServerProcess.FreePort()}");
        var call = connection.CallAsync(Connection.RawCheck, []);
        Assert.True(call.IsFaulted);
        Assert.Equal(StatusCode.Unavailable, Assert.IsType<RpcException>(call.Exception!.InnerException).StatusCode);
    }

    internal static async Task<ServerProcess> StartFloorAsync()
    {
        var server = ServerProcess.Start("floor", ServerCommand.Floor(FloorBinary()), Path.Combine(Path.GetTempPath(), $"sidecars-h2-floor-{Environment.ProcessId}.log"));
        await server.WaitReadyAsync(TimeSpan.FromSeconds(30));
        return server;
    }

    private static string FloorBinary()
    {
        var path = Environment.GetEnvironmentVariable("SIDECARS_FLOOR_BINARY") is { Length: > 0 } p ? p : "";
        Assert.True(File.Exists(path), "SIDECARS_FLOOR_BINARY is not set to the AOT floor: run scripts/test.sh, which publishes it");
        return path;
    }
}
