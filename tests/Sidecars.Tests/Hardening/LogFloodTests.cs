using System.Net;
using Envoy.Service.Ratelimit.V3;
using Grpc.Net.Client;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.Server;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, finding 12: a client resetting its streams must not make the server write a log line (let alone an
/// Error with a stack) per stream: grpc-dotnet's ServerCallHandler does by default.
/// </summary>
public sealed class LogFloodTests
{
    private const int Streams = 300;

    [Fact]
    public async Task Hundreds_of_reset_streams_and_unreadable_messages_leave_the_log_small()
    {
        var grpcPort = FreePort.Next();
        var http = StartupFailureTests.Loopback();
        await using var server = SidecarsProcess.Start(["serve", "--grpc", $"127.0.0.1:{grpcPort}", "--http", http]);
        Assert.True(await server.WaitForOutputAsync("listening for HTTP"), server.Stdout + server.Stderr);
        var before = server.Stdout.Length;

        using var client = new HttpClient(new SocketsHttpHandler()) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
        var uri = new Uri($"http://127.0.0.1:{grpcPort}/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit");
        var reset = 0;
        var answered = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, Streams), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, ct) =>
        {
            // Even: the client resets the stream mid-message. Odd: a whole frame whose bytes are no protobuf.
            HttpContent content = i % 2 == 0 ? new AbortingContent() : new ByteArrayContent([0, 0, 0, 0, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
            content.Headers.TryAddWithoutValidation("content-type", "application/grpc");
            using var request = new HttpRequestMessage(HttpMethod.Post, uri)
            {
                Content = content,
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact, // h2c, prior knowledge: the gRPC listener speaks only HTTP/2
            };
            request.Headers.TryAddWithoutValidation("te", "trailers");
            try
            {
                using var response = await client.SendAsync(request, ct);
                await response.Content.ReadAsByteArrayAsync(ct);
                Interlocked.Increment(ref answered);
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref reset);
            }
        });
        Assert.Equal(Streams, reset + answered);
        Assert.True(answered >= Streams / 2, $"only {answered} unreadable messages were answered: the calls did not reach the server");

        // A normal call still works, and what the abuse logged is bounded.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var ok = await new RateLimitService.RateLimitServiceClient(channel).ShouldRateLimitAsync(RateLimitServiceTests.Request("nowhere", [("k", "v")]));
        Assert.Equal(RateLimitResponse.Types.Code.Ok, ok.OverallCode);
        await Task.Delay(500); // the console logger writes on its own thread
        var logged = server.Stdout[before..];
        var lines = logged.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain(lines, l => l.Contains("fail:", StringComparison.Ordinal) || l.Contains("crit:", StringComparison.Ordinal));
        Assert.True(lines.Length < 10, $"{lines.Length} log lines for {Streams} bad calls: {string.Join('\n', lines.Take(5))}");
    }

    /// <summary>A gRPC frame whose length prefix promises 100 bytes; 10 are sent, then the request body fails and the client resets the stream.</summary>
    private sealed class AbortingContent : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await stream.WriteAsync(new byte[] { 0, 0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 });
            await stream.FlushAsync();
            await Task.Delay(20);
            throw new IOException("client gives up mid-message");
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
