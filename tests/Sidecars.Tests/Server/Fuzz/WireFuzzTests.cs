using System.Collections.Concurrent;
using System.Globalization;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Grpc.Core;
using Sidecars.Tests.Infrastructure;
using Xunit.Abstractions;
using static Sidecars.Tests.Server.WireConfig;
using AuthorizationClient = Envoy.Service.Auth.V3.Authorization.AuthorizationClient;

namespace Sidecars.Tests.Server.Fuzz;

/// <summary>
/// The fuzz / property suite of issue 7 against the running server (in-process, loopback TCP; one pass over the
/// Unix socket): thousands of generated and mutated CheckRequests, RateLimitRequests, JWTs and raw gRPC frames.
/// Every answer must be a well-formed response or a clean gRPC status (never UNKNOWN; never a gRPC error on a
/// well-framed Check), a normal client interleaved with the fuzz keeps getting right answers, and memory stays
/// bounded. <c>SIDECARS_FUZZ_SEED</c> reproduces a run, <c>SIDECARS_FUZZ_ITERATIONS</c> lengthens it (docs/FUZZING.md).
/// </summary>
public sealed class WireFuzzTests(ITestOutputHelper output)
{
    private const int Parallelism = 4;

    // Heap growth allowed over a whole run, after a forced GC: caches are bounded far below this.
    private const long MemoryBound = 256L * 1024 * 1024;

    private static int Seed { get; } = int.TryParse(Environment.GetEnvironmentVariable("SIDECARS_FUZZ_SEED"), CultureInfo.InvariantCulture, out var seed)
        ? seed
        : Random.Shared.Next();

    private static int Iterations(int ciDefault) =>
        int.TryParse(Environment.GetEnvironmentVariable("SIDECARS_FUZZ_ITERATIONS"), CultureInfo.InvariantCulture, out var n) ? n : ciDefault;

    [Fact]
    public Task Check_requests_always_get_a_check_response() =>
        RunAsync("check", Iterations(1500), FuzzInputs.CheckRequest, RawGrpc.CheckPath);

    [Fact]
    public Task Jwts_always_get_a_check_response_and_only_our_keys_allow() =>
        RunAsync("jwt", Iterations(1500), FuzzInputs.Jwt, RawGrpc.CheckPath);

    [Fact]
    public Task Rate_limit_requests_are_decided_or_refused_cleanly() =>
        RunAsync("ratelimit", Iterations(1000), FuzzInputs.RateLimitRequest, RawGrpc.ShouldRateLimitPath);

    [Fact]
    public async Task Raw_frames_get_a_clean_status()
    {
        await RunAsync("frames-check", Math.Max(1, Iterations(1500) / 3), r => FuzzInputs.RawFrame(r, FuzzInputs.CheckRequest), RawGrpc.CheckPath);
        await RunAsync("frames-ratelimit", Math.Max(1, Iterations(1500) / 5), r => FuzzInputs.RawFrame(r, FuzzInputs.RateLimitRequest), RawGrpc.ShouldRateLimitPath);
    }

    [Fact]
    public async Task One_pass_over_the_unix_socket()
    {
        var iterations = Math.Max(1, Iterations(1500) / 5);
        await RunAsync("unix-check", iterations, r => r.Next(2) == 0 ? FuzzInputs.CheckRequest(r) : FuzzInputs.Jwt(r), RawGrpc.CheckPath, unixSocket: true);
        await RunAsync("unix-ratelimit", iterations, FuzzInputs.RateLimitRequest, RawGrpc.ShouldRateLimitPath, unixSocket: true);
    }

    private async Task RunAsync(string name, int iterations, Func<Random, FuzzCase> generate, string path, bool unixSocket = false)
    {
        output.WriteLine($"fuzz {name}: SIDECARS_FUZZ_SEED={Seed} iterations={iterations}");
        var (server, directory) = await StartAsync(unixSocket);
        await using var _ = server;
        using var __ = directory;
        using var raw = new RawGrpc(server);
        var auth = new AuthorizationClient(server.Channel());
        var rateLimit = server.RateLimitClient();
        var failures = new ConcurrentQueue<string>();

        await KnownGoodAsync(auth, rateLimit, 0, failures);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        await Parallel.ForEachAsync(Enumerable.Range(0, iterations), new ParallelOptions { MaxDegreeOfParallelism = Parallelism }, async (i, _) =>
        {
            if (failures.Count >= 5)
            {
                return;
            }

            // One Random per case, from the run's seed and the case number: a failure reproduces alone.
            var input = generate(new Random(CaseSeed(name, i)));
            try
            {
                var answer = await raw.SendAsync(path, input.Raw ? input.Body : RawGrpc.Frame(input.Body), input.Encoding);
                if (Verdict(path, input, answer) is { } problem)
                {
                    failures.Enqueue($"case {i}: {problem}; answer {answer}; input {input.Describe()}");
                }
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                failures.Enqueue($"case {i}: the call failed at the HTTP level ({e.GetType().Name}: {e.Message}); input {input.Describe()}");
            }

            if (i % 25 == 0)
            {
                await KnownGoodAsync(auth, rateLimit, i, failures);
            }
        });
        await KnownGoodAsync(auth, rateLimit, iterations, failures);
        var growth = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        output.WriteLine($"fuzz {name}: heap growth {growth / 1024} KiB");

        Assert.True(failures.IsEmpty, $"fuzz {name} failed with SIDECARS_FUZZ_SEED={Seed}:\n{string.Join("\n", failures)}");
        Assert.True(growth < MemoryBound, $"fuzz {name} (SIDECARS_FUZZ_SEED={Seed}): the heap grew by {growth / (1024 * 1024)} MiB");
    }

    /// <summary>A stable mix of the run's seed, the suite and the case number (string.GetHashCode is per process).</summary>
    private static int CaseSeed(string name, int i)
    {
        var hash = (uint)Seed;
        foreach (var c in name)
        {
            hash = (hash ^ c) * 16777619;
        }

        return (int)((hash ^ (uint)i) * 2654435761);
    }

    /// <summary>Null when the answer is acceptable for the input, else what is wrong.</summary>
    private static string? Verdict(string path, FuzzCase input, RawGrpcAnswer answer)
    {
        if (answer.Status is StatusCode.Unknown or (StatusCode)(-1))
        {
            return "not a clean gRPC status";
        }

        if (path == RawGrpc.CheckPath)
        {
            // A message that arrived whole is always decided: a gRPC error would be an allow behind
            // failure_mode_allow. Only a broken frame (which Envoy never sends) may get a framing status.
            if (answer.Status != StatusCode.OK)
            {
                return input.WellFramed ? "a well-framed Check must answer a CheckResponse"
                    : answer.Status is StatusCode.Internal or StatusCode.ResourceExhausted or StatusCode.Unimplemented ? null
                    : "unexpected status for a broken frame";
            }

            CheckResponse response;
            try
            {
                response = CheckResponse.Parser.ParseFrom(answer.Payload ?? []);
            }
            catch (Google.Protobuf.InvalidProtocolBufferException e)
            {
                return "the CheckResponse does not parse: " + e.Message;
            }

            return response.Status?.Code switch
            {
                0 when response.OkResponse is null => "allowed without ok_response",
                0 when !input.MayBeAllowed && input.Kind.StartsWith("JWT", StringComparison.Ordinal) => "allowed with a token no key of ours signed",
                0 => null,
                7 or 16 when response.DeniedResponse?.Status is null => "denied without an HTTP status",
                7 or 16 => null,
                var code => $"CheckResponse status {code}",
            };
        }

        if (answer.Status is StatusCode.InvalidArgument or StatusCode.ResourceExhausted)
        {
            return null;
        }

        if (answer.Status != StatusCode.OK)
        {
            return input.WellFramed ? "a well-framed ShouldRateLimit must be decided or refused as invalid" :
                answer.Status is StatusCode.Internal or StatusCode.Unimplemented ? null : "unexpected status for a broken frame";
        }

        var decided = RateLimitResponse.Parser.ParseFrom(answer.Payload ?? []);
        return decided.OverallCode is RateLimitResponse.Types.Code.Ok or RateLimitResponse.Types.Code.OverLimit ? null : $"overall code {decided.OverallCode}";
    }

    /// <summary>What a normal client gets must not change while the fuzz runs.</summary>
    private static async Task KnownGoodAsync(AuthorizationClient auth, RateLimitService.RateLimitServiceClient rateLimit, int i, ConcurrentQueue<string> failures)
    {
        try
        {
            var allowed = await auth.CheckAsync(Check("/api/orders", "Bearer " + ValidToken()));
            if (allowed.Status.Code != 0 || allowed.OkResponse.Headers.All(h => h.Header.Key != "x-user-id" || h.Header.Value != "user-1"))
            {
                failures.Enqueue($"after case {i}: a valid token was not allowed with x-user-id ({allowed})");
            }

            var denied = await auth.CheckAsync(Check("/api/orders", null));
            if (denied.Status.Code != 16)
            {
                failures.Enqueue($"after case {i}: a request without token was not a 401 ({denied})");
            }

            var request = new RateLimitRequest { Domain = "edge" };
            var descriptor = new global::Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor();
            descriptor.Entries.Add(new global::Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor.Types.Entry { Key = "remote_address", Value = "known-good-" + Guid.NewGuid().ToString("N") });
            request.Descriptors.Add(descriptor);
            var limited = await rateLimit.ShouldRateLimitAsync(request);
            if (limited.OverallCode != RateLimitResponse.Types.Code.Ok || limited.Statuses[0].LimitRemaining != 1)
            {
                failures.Enqueue($"after case {i}: a fresh client was not given its first of 2 ({limited})");
            }
        }
        catch (RpcException e)
        {
            failures.Enqueue($"after case {i}: the normal client failed: {e.Status}");
        }
    }

    private static CheckRequest Check(string path, string? authorization)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "example.com", Path = path, Scheme = "https", Protocol = "HTTP/2" };
        if (authorization is not null)
        {
            http.Headers["authorization"] = authorization;
        }

        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }
}
