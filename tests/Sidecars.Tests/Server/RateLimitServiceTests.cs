using System.Net;
using Envoy.Extensions.Common.Ratelimit.V3;
using Envoy.Service.Ratelimit.V3;
using Grpc.Core;
using Grpc.Health.V1;
using Sidecars.Tests.Infrastructure;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Server;

/// <summary>The real server over loopback TCP and a Unix domain socket, driven by a real gRPC client.</summary>
public sealed class RateLimitServiceTests
{
    private const string Config = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: { name: per-ip, unit: minute, requests_per_unit: 3 }
          - key: path
            value: /static/*
            rate_limit: { unlimited: true }
        """;

    internal static RateLimitRequest Request(string domain, params (string Key, string Value)[][] descriptors)
    {
        var request = new RateLimitRequest { Domain = domain };
        foreach (var entries in descriptors)
        {
            var descriptor = new RateLimitDescriptor();
            descriptor.Entries.AddRange(entries.Select(e => new RateLimitDescriptor.Types.Entry { Key = e.Key, Value = e.Value }));
            request.Descriptors.Add(descriptor);
        }

        return request;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Limits_are_enforced_over_tcp_and_unix_socket(bool unixSocket)
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path, unixSocket);
        var client = server.RateLimitClient();
        var request = Request("edge", [("remote_address", "10.0.0.1")], [("path", "/static/app.js")], [("unknown", "x")]);

        for (var remaining = 2u; remaining < 3; remaining--)
        {
            var ok = await client.ShouldRateLimitAsync(request);
            Assert.Equal(Code.Ok, ok.OverallCode);
            Assert.Equal(3, ok.Statuses.Count);
            Assert.Equal(remaining, ok.Statuses[0].LimitRemaining);
            Assert.Equal(3u, ok.Statuses[0].CurrentLimit.RequestsPerUnit);
            Assert.Equal(RateLimit.Types.Unit.Minute, ok.Statuses[0].CurrentLimit.Unit);
            Assert.Equal("per-ip", ok.Statuses[0].CurrentLimit.Name);
            Assert.Equal(uint.MaxValue, ok.Statuses[1].LimitRemaining);
            Assert.Null(ok.Statuses[1].CurrentLimit);
            Assert.Equal(Code.Ok, ok.Statuses[2].Code);
            Assert.Null(ok.Statuses[2].CurrentLimit);
        }

        var over = await client.ShouldRateLimitAsync(request);
        Assert.Equal(Code.OverLimit, over.OverallCode);
        Assert.Equal(Code.OverLimit, over.Statuses[0].Code);
        Assert.Equal(0u, over.Statuses[0].LimitRemaining);

        // The next of 3 tokens per minute arrives within 20 s of the first hit.
        Assert.InRange(over.Statuses[0].DurationUntilReset.ToTimeSpan(), TimeSpan.FromSeconds(15), TimeSpan.FromSeconds(20));
        Assert.Equal(Code.Ok, over.Statuses[1].Code);
    }

    [Fact]
    public async Task Response_headers_describe_the_most_restrictive_descriptor()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", """
            domain: edge
            descriptors:
              - key: user
                rate_limit: { unit: minute, requests_per_unit: 10 }
              - key: tenant
                rate_limit: { name: tenant, unit: hour, requests_per_unit: 2 }
            """);
        await using var server = await SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?>
        {
            ["Sidecars:Headers:Enabled"] = "true",
            ["Sidecars:Headers:Draft"] = "true",
            ["Sidecars:Headers:ResetHeader"] = "X-Reset",
        });
        var response = await server.RateLimitClient().ShouldRateLimitAsync(Request("edge", [("user", "u")], [("tenant", "t")]));
        var headers = response.ResponseHeadersToAdd.ToDictionary(h => h.Key, h => h.Value);
        Assert.Equal("2", headers["RateLimit-Limit"]);
        Assert.Equal("1", headers["RateLimit-Remaining"]);
        Assert.Equal("1800", headers["X-Reset"]);
        Assert.Equal("\"tenant\";q=2;w=3600", headers["RateLimit-Policy"]);
        Assert.Equal("\"tenant\";r=1;t=1800", headers["RateLimit"]);
    }

    [Fact]
    public async Task Headers_are_off_by_default()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var response = await server.RateLimitClient().ShouldRateLimitAsync(Request("edge", [("remote_address", "a")]));
        Assert.Empty(response.ResponseHeadersToAdd);
    }

    [Fact]
    public async Task Descriptor_limit_override_and_hits_addend_arrive_from_envoy()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();
        var request = Request("edge", [("remote_address", "10.9.9.9")]);
        request.Descriptors[0].Limit = new RateLimitDescriptor.Types.RateLimitOverride { RequestsPerUnit = 10, Unit = global::Envoy.Type.V3.RateLimitUnit.Second };
        request.Descriptors[0].HitsAddend = 4;

        var response = await client.ShouldRateLimitAsync(request);
        Assert.Equal(6u, response.Statuses[0].LimitRemaining);
        Assert.Equal(RateLimit.Types.Unit.Second, response.Statuses[0].CurrentLimit.Unit);
    }

    [Fact]
    public async Task A_limit_override_with_an_unknown_unit_is_invalid_argument_and_unit_7_is_a_week()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();

        // envoy.type.v3.RateLimitUnit ends at YEAR (6); 0 and 8 are no unit. Said plainly, never an UNKNOWN status.
        foreach (var unit in new[] { 0, 8, 1000 })
        {
            var request = Request("edge", [("remote_address", "10.9.9.8")]);
            request.Descriptors[0].Limit = new RateLimitDescriptor.Types.RateLimitOverride { RequestsPerUnit = 10, Unit = (global::Envoy.Type.V3.RateLimitUnit)unit };
            var refused = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(request).ResponseAsync);
            Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);
            Assert.Equal($"descriptor 0 has a limit override with unit {unit}, which is no unit: 1 second, 2 minute, 3 hour, 4 day, 5 month, 6 year, 7 week", refused.Status.Detail);
        }

        // 7 is WEEK in the response's unit, and envoyproxy/ratelimit reads an override's number that way.
        var week = Request("edge", [("remote_address", "10.9.9.7")]);
        week.Descriptors[0].Limit = new RateLimitDescriptor.Types.RateLimitOverride { RequestsPerUnit = 10, Unit = (global::Envoy.Type.V3.RateLimitUnit)7 };
        var response = await client.ShouldRateLimitAsync(week);
        Assert.Equal(RateLimit.Types.Unit.Week, response.Statuses[0].CurrentLimit.Unit);
        Assert.Equal(9u, response.Statuses[0].LimitRemaining);
    }

    [Fact]
    public async Task Bad_requests_get_invalid_argument_and_the_server_keeps_serving()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();

        var emptyDomain = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(Request("", [("k", "v")])).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, emptyDomain.StatusCode);
        Assert.Equal("rate limit domain must not be empty", emptyDomain.Status.Detail);

        var noDescriptors = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(Request("edge")).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, noDescriptors.StatusCode);
        Assert.Equal("rate limit descriptor list must not be empty", noDescriptors.Status.Detail);

        var tooMany = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(
            Request("edge", [.. Enumerable.Repeat<(string, string)[]>([("k", "v")], 65)])).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, tooMany.StatusCode);
        Assert.Contains("at most 64", tooMany.Status.Detail, StringComparison.Ordinal);

        var longValue = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(
            Request("edge", [("remote_address", new string('x', 100_000))])).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, longValue.StatusCode);
        Assert.Contains("longer than 16384", longValue.Status.Detail, StringComparison.Ordinal);

        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(Request("edge", [("remote_address", "still-serving")]))).OverallCode);
    }

    [Fact]
    public async Task Huge_requests_are_refused_with_a_clear_error_and_the_server_keeps_serving()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();

        var million = new RateLimitRequest { Domain = "edge" };
        var descriptor = new RateLimitDescriptor();
        for (var i = 0; i < 1_000_000; i++)
        {
            descriptor.Entries.Add(new RateLimitDescriptor.Types.Entry { Key = "k", Value = "v" });
        }

        million.Descriptors.Add(descriptor);
        var hugeList = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(million).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, hugeList.StatusCode);

        var megabyte = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(
            Request("edge", [("remote_address", new string('x', 1024 * 1024))])).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, megabyte.StatusCode);

        // Within the size limit but over the entry bound: refused before anything is copied.
        var manyEntries = new RateLimitRequest { Domain = "edge" };
        var wide = new RateLimitDescriptor();
        for (var i = 0; i < 10_000; i++)
        {
            wide.Entries.Add(new RateLimitDescriptor.Types.Entry { Key = "k", Value = "v" });
        }

        manyEntries.Descriptors.Add(wide);
        var tooWide = await Assert.ThrowsAsync<RpcException>(() => client.ShouldRateLimitAsync(manyEntries).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, tooWide.StatusCode);
        Assert.Contains("at most 32", tooWide.Status.Detail, StringComparison.Ordinal);

        Assert.Equal(Code.Ok, (await client.ShouldRateLimitAsync(Request("edge", [("remote_address", "still-serving")]))).OverallCode);
    }

    [Fact]
    public async Task Health_reports_serving_over_grpc_and_http()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Config);
        await using var server = await SidecarServer.StartAsync(directory.Path, unixSocket: true);
        var health = new Health.HealthClient(server.Channel());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(
            HealthCheckResponse.Types.ServingStatus.Serving,
            (await health.CheckAsync(new HealthCheckRequest { Service = "envoy.service.ratelimit.v3.RateLimitService" })).Status);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "nope" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);

        using var watch = health.Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, watch.ResponseStream.Current.Status);

        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/healthz")).StatusCode);
        var ready = await server.Http.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = await ready.Content.ReadAsStringAsync();
        Assert.Contains("\"ready\":true", body, StringComparison.Ordinal);
        Assert.Contains("\"generation\":1", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Embedded_example_config_is_served_without_a_config_directory()
    {
        await using var server = await SidecarServer.StartAsync(configDirectory: null);
        var response = await server.RateLimitClient().ShouldRateLimitAsync(Request("edge", [("authenticated", "false"), ("path", "/login")]));
        Assert.Equal("login", response.Statuses[0].CurrentLimit.Name);
        Assert.Equal(9u, response.Statuses[0].LimitRemaining);
    }
}
