using System.Text.Json;
using Envoy.Service.Auth.V3;
using Sidecars.Tests.Infrastructure;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Server;

/// <summary>/readyz "calls" counts every answer by outcome, and "runtime" reports the process (issue 8: the load tool cross-checks with them).</summary>
public sealed class ReadyzCallsTests
{
    private const string Limits = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: { unit: minute, requests_per_unit: 3 }
        """;

    private const string Auth = """
        routes:
          - match: { path_prefix: /open }
            requires: allow
        default: deny
        """;

    private static CheckRequest Check(string path) => new()
    {
        Attributes = new AttributeContext
        {
            Request = new AttributeContext.Types.Request
            {
                Http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "orders.example.com", Path = path, Scheme = "https", Protocol = "HTTP/2" },
            },
        },
    };

    private static async Task<JsonElement> Readyz(SidecarServer server) =>
        JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement.Clone();

    private static long Delta(JsonElement before, JsonElement after, string name) =>
        after.GetProperty("calls").GetProperty(name).GetInt64() - before.GetProperty("calls").GetProperty(name).GetInt64();

    [Fact]
    public async Task Calls_are_counted_by_outcome_and_runtime_is_reported()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limits);
        directory.Write("auth.yaml", Auth);
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var auth = new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(server.Channel());
        var limits = server.RateLimitClient();
        var before = await Readyz(server);

        Assert.Equal(0, (await auth.CheckAsync(Check("/open/1"))).Status.Code);
        Assert.Equal(0, (await auth.CheckAsync(Check("/open/2"))).Status.Code);
        Assert.NotEqual(0, (await auth.CheckAsync(Check("/closed"))).Status.Code);
        var request = RateLimitServiceTests.Request("edge", [("remote_address", "10.0.0.1")]);
        var codes = new List<Code>();
        for (var i = 0; i < 4; i++)
        {
            codes.Add((await limits.ShouldRateLimitAsync(request)).OverallCode);
        }

        Assert.Equal([Code.Ok, Code.Ok, Code.Ok, Code.OverLimit], codes);
        var after = await Readyz(server);
        Assert.Equal(
            (3L, 2L, 1L, 4L, 3L, 1L),
            (Delta(before, after, "check"), Delta(before, after, "check_ok"), Delta(before, after, "check_denied"),
             Delta(before, after, "should_rate_limit"), Delta(before, after, "should_rate_limit_ok"), Delta(before, after, "should_rate_limit_over_limit")));

        var runtime = after.GetProperty("runtime");
        foreach (var name in new[] { "gen0", "gen1", "gen2", "heap_bytes" })
        {
            Assert.True(runtime.GetProperty(name).GetInt64() >= 0, name);
        }

        Assert.True(runtime.GetProperty("gc_pause_ms").GetDouble() >= 0);
        Assert.True(runtime.GetProperty("working_set_bytes").GetInt64() > 1_000_000);
        Assert.True(runtime.GetProperty("threads").GetInt32() > 0);
        Assert.Equal(System.Runtime.GCSettings.IsServerGC, runtime.GetProperty("server_gc").GetBoolean());
    }
}
