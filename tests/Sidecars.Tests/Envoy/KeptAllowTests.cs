using Envoy.Service.Auth.V3;
using Sidecars.Envoy.Authorization;
using Sidecars.Tests.Authorization.Services;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// A cached token keeps one encoded allow per route it is used on (up to <see cref="AllowResponses.KeptPerToken"/>):
/// a client alternating between routes is answered from the kept bytes, not re-encoded on every switch; the answers
/// stay each route's own; past the bound the oldest is rebuilt; after a reload none of the old answers is served.
/// </summary>
public sealed class KeptAllowTests
{
    private static readonly (string Name, string Yaml)[] Files = [("svc.yaml", """
        service: svc
        owns: [{ host: svc.example.com }]
        routes:
          - { name: r1, match: { path_prefix: /r1 }, requires: { provider: corp } }
          - { name: r2, match: { path_prefix: /r2 }, requires: { provider: corp } }
          - { name: r3, match: { path_prefix: /r3 }, requires: { provider: corp } }
          - { name: r4, match: { path_prefix: /r4 }, requires: { provider: corp } }
          - { name: r5, match: { path_prefix: /r5 }, requires: { provider: corp } }
        """), ("shared.yaml", """
        routes:
          - { name: shared, match: { host: shared.example.com, path_prefix: / }, requires: { provider: corp } }
        """)];

    private static ServiceHarness Harness() => new(Files);

    // Always complete on return (no I/O on an in-memory store): read here, outside the test methods.
    private static CheckAnswer Answer(ServiceHarness harness, CheckRequest request) => harness.Adapter.Answer(request).Result;

    private static string Route(CheckAnswer answer) => answer.ToMessage().DynamicMetadata.Fields["route"].StringValue;

    [Fact]
    public void Alternating_between_a_service_route_and_a_shared_route_reuses_each_routes_answer_and_allocates_nothing()
    {
        var harness = Harness();
        var token = Token();
        CheckRequest[] requests = [Request("svc.example.com", "/r1", token: token), Request("shared.example.com", "/x", token: token)];
        var first = requests.Select(r => Answer(harness, r)).ToArray();
        Assert.Equal(["r1", "shared"], first.Select(Route));

        for (var i = 0; i < 10; i++)
        {
            harness.Adapter.Answer(requests[i % 2]);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            Assert.Same(first[i % 2], Answer(harness, requests[i % 2]));
        }

        var perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
        Assert.True(perCall == 0, $"alternating two routes allocated {perCall} B per call; each route's kept answer should be reused");
    }

    [Fact]
    public void Past_the_bound_the_oldest_answer_is_rebuilt_and_the_others_kept()
    {
        var harness = Harness();
        var token = Token();
        var routes = Enumerable.Range(1, AllowResponses.KeptPerToken + 1).Select(i => Request("svc.example.com", $"/r{i}", token: token)).ToArray();
        var answers = routes.Select(r => Answer(harness, r)).ToArray();
        Assert.Equal(routes.Length, answers.Select(Route).Distinct().Count());

        // r1 was the oldest when r5 came: it is rebuilt (a new answer, the same bytes); r2..r5 are still kept.
        for (var i = 1; i < routes.Length; i++)
        {
            Assert.Same(answers[i], Answer(harness, routes[i]));
        }

        var rebuilt = Answer(harness, routes[0]);
        Assert.NotSame(answers[0], rebuilt);
        Assert.Equal(answers[0].Encoded.ToArray(), rebuilt.Encoded.ToArray());
    }

    [Fact]
    public void After_a_reload_no_answer_kept_for_the_old_snapshot_is_served()
    {
        var harness = Harness();
        var token = Token();
        var r1 = Request("svc.example.com", "/r1", token: token);
        var r2 = Request("svc.example.com", "/r2", token: token);
        var before = (Answer(harness, r1), Answer(harness, r2));

        // The same files compiled again: a new snapshot, as a reload publishes.
        harness.Config.Publish(Sidecars.Tests.Infrastructure.TestConfig.State([("00-providers.yaml", Providers), .. Files]).Current);
        var after = (Answer(harness, r1), Answer(harness, r2));

        Assert.NotSame(before.Item1, after.Item1);
        Assert.NotSame(before.Item2, after.Item2);
        Assert.Equal(["r1", "r2"], new[] { after.Item1, after.Item2 }.Select(Route));
        Assert.Same(after.Item1, Answer(harness, r1));
    }
}
