using Envoy.Service.Ratelimit.V3;
using Grpc.Core;
using Grpc.Health.V1;
using Sidecars.Tests.Infrastructure;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Server;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Shutdown_reports_not_serving_and_lets_the_watch_call_finish()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", "domain: edge\ndescriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 1000000 }\n");
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();
        var health = new Health.HealthClient(server.Channel());
        using var watch = health.Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);

        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("edge", [("user", "u")]))).OverallCode);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stopping = server.StopAsync();

        // The watch is a call in flight: it sees the drain, then ends normally (not aborted), so it does not hold shutdown up.
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        Assert.False(await watch.ResponseStream.MoveNext());

        await stopping;
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"shutdown waited {clock.Elapsed} for a call that should have ended");
    }
}
