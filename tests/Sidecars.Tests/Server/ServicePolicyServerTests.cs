using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Sidecars.Tests.Authorization.Services;
using Sidecars.Tests.Infrastructure;
using AuthorizationClient = global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient;

namespace Sidecars.Tests.Server;

/// <summary>Issue 9 on the real server: service files decided over gRPC (TCP and Unix socket), limits inside Check in memory and through Redis shared by two sidecars.</summary>
public sealed class ServicePolicyServerTests
{
    private const string Orders = """
        service: orders
        owns: [{ host: orders.example.com }]
        routes:
          - name: read
            match: { path_prefix: /orders }
            requires: { provider: corp }
            rules:
              - source_ip: [10.0.0.0/8]
              - context: { key: tier, in: [gold] }
            rate_limits:
              - { name: per-user, per: [claim:sub], unit: hour, requests_per_unit: 3 }
              - { name: per-ip, per: [source_ip], unit: hour, requests_per_unit: 100 }
        """;

    private static TempConfigDirectory Directory()
    {
        var directory = new TempConfigDirectory();
        directory.Write("00-providers.yaml", ServiceHarness.Providers);
        directory.Write("orders.yaml", Orders);
        return directory;
    }

    private static CheckRequest Request(string sub, string ip = "10.1.2.3", string tier = "gold")
    {
        var request = ServiceHarness.Request("orders.example.com", "/orders/1", sourceIp: ip, context: [("tier", tier)]);
        request.Attributes.Request.Http.Headers["authorization"] = "Bearer " + Sidecars.Tests.Authentication.TestTokens.LiveRs256(sub);
        request.Attributes.Request.Http.Headers["user-agent"] = "test";
        request.Attributes.Destination = new AttributeContext.Types.Peer { Address = new Address { SocketAddress = new SocketAddress { Address = "10.9.9.9", PortValue = 443 } } };
        return request;
    }

    private static int Status(CheckResponse response) => ServiceHarness.Status(response);

    [Fact]
    public async Task Rules_on_source_and_context_and_limits_inside_check_hold_over_the_wire()
    {
        using var directory = Directory();
        await using var server = await SidecarServer.StartAsync(directory.Path, unixSocket: true);
        var client = new AuthorizationClient(server.Channel());
        var sinceFirstCharge = System.Diagnostics.Stopwatch.StartNew();
        Assert.Equal(200, Status(await client.CheckAsync(Request("alice"))));
        Assert.Equal(403, Status(await client.CheckAsync(Request("alice", ip: "192.0.2.1"))));
        Assert.Equal(403, Status(await client.CheckAsync(Request("alice", tier: "silver"))));
        Assert.Equal(200, Status(await client.CheckAsync(Request("alice"))));
        var third = await client.CheckAsync(Request("alice"));
        Assert.Equal(200, Status(third));
        // The bucket is full again an hour after the first charge, in whole seconds rounded up: 3600 unless the
        // calls in between took more than a second (a loaded test machine), never less than that time allows.
        var ratelimit = ServiceHarness.Header(third.OkResponse.ResponseHeadersToAdd, "ratelimit");
        Assert.StartsWith("\"per-user\";r=0;t=", ratelimit, StringComparison.Ordinal);
        AssertSecondsWithin(ratelimit!["\"per-user\";r=0;t=".Length..], 3600, sinceFirstCharge.Elapsed);
        var over = await client.CheckAsync(Request("alice"));
        Assert.Equal(429, Status(over));
        AssertSecondsWithin(ServiceHarness.Header(over.DeniedResponse.Headers, "retry-after"), 1200, sinceFirstCharge.Elapsed);
        Assert.Equal(200, Status(await client.CheckAsync(Request("bob"))));
    }

    private static void AssertSecondsWithin(string? text, int full, TimeSpan elapsed)
    {
        var seconds = int.Parse(text!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(seconds, full - (int)Math.Ceiling(elapsed.TotalSeconds), full);
    }

    [Fact]
    public async Task Dry_run_allows_over_the_wire_reports_to_the_upstream_and_is_counted()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("00-providers.yaml", ServiceHarness.Providers);
        directory.Write("beta.yaml", """
            service: beta
            owns: [{ host: beta.example.com }]
            mode: dry_run
            routes:
              - { name: all, match: {}, requires: { provider: corp } }
            """);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = new AuthorizationClient(server.Channel());
        var response = await client.CheckAsync(ServiceHarness.Request("beta.example.com", "/x", headers: [("x-user-id", "forged")]));
        Assert.Equal(0, response.Status.Code);
        Assert.Equal("401 a bearer token is required", ServiceHarness.Header(response.OkResponse.Headers, "x-sidecars-dry-run"));
        Assert.Equal("401 a bearer token is required", response.DynamicMetadata.Fields["dry_run"].StringValue);
        Assert.Contains("x-user-id", response.OkResponse.HeadersToRemove);
        var calls = System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement.GetProperty("calls");
        Assert.Equal(1, calls.GetProperty("check_dry_run").GetInt64());
        Assert.Equal(1, calls.GetProperty("check_ok").GetInt64());
    }

    [Fact]
    public async Task Two_sidecars_sharing_one_redis_enforce_a_service_limit_together()
    {
        using var redis = RedisServer.Start();
        using var directory = Directory();
        var settings = new Dictionary<string, string?>
        {
            ["Sidecars:Redis:Configuration"] = redis.Configuration,
            ["Sidecars:Redis:OperationTimeout"] = "00:00:01",
        };
        await using var first = await SidecarServer.StartAsync(directory.Path, settings: settings);
        await using var second = await SidecarServer.StartAsync(directory.Path, settings: settings);
        var a = new AuthorizationClient(first.Channel());
        var b = new AuthorizationClient(second.Channel());
        Assert.Equal(200, Status(await a.CheckAsync(Request("carol"))));
        Assert.Equal(200, Status(await b.CheckAsync(Request("carol"))));
        Assert.Equal(200, Status(await a.CheckAsync(Request("carol"))));
        var over = await b.CheckAsync(Request("carol"));
        Assert.Equal(429, Status(over));
        Assert.Equal("rate limit 'per-user' of route 'read' exceeded", over.Status.Message);
        Assert.Equal(200, Status(await b.CheckAsync(Request("dave"))));
        var keys = redis.Cli("--scan", "--pattern", "*service:orders*");
        Assert.True(keys.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length >= 2, "the buckets are in Redis under the service's domain: " + keys);
    }
}
