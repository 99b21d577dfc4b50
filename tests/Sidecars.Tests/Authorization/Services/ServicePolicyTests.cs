using Sidecars.Tests.Infrastructure;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Authorization.Services;

/// <summary>Issue 9: service files decided in process — ownership, routes, requirements, API keys, limits and dry run.</summary>
public sealed class ServicePolicyTests
{
    private const string Orders = """
        service: orders
        owns:
          - { host: orders.example.com }
          - { host: api.example.com, path_prefix: /orders }
        routes:
          - name: read
            match: { path_prefix: /orders, methods: [GET, HEAD] }
            requires: { provider: corp }
            rules:
              - claim: { name: tenant, in: [acme, globex] }
              - not: { header: { name: x-debug, exists: true } }
          - name: health
            match: { path: /healthz }
            requires: allow
        """;

    private const string Billing = """
        service: billing
        owns:
          - { host: api.example.com, path_prefix: /billing }
        routes:
          - name: all
            match: { path_prefix: /billing }
            requires: deny
        """;

    [Fact]
    public void The_owner_of_the_host_and_longest_prefix_decides_and_its_rules_apply()
    {
        var harness = new ServiceHarness(("orders.yaml", Orders), ("billing.yaml", Billing));
        var acme = Token(""","tenant":"acme" """);
        Assert.Equal(200, Status(harness.Check(Request("orders.example.com", "/orders/1", token: acme))));
        Assert.Equal(200, Status(harness.Check(Request("api.example.com", "/orders/1", token: acme))));
        Assert.Equal(403, Status(harness.Check(Request("api.example.com", "/billing/1", token: acme))));

        var other = harness.Check(Request("orders.example.com", "/orders/1", token: Token(""","tenant":"initech" """)));
        Assert.Equal(403, Status(other));
        Assert.Equal("rule 1 of route 'read' failed: claim 'tenant' in [acme, globex]", other.Status.Message);

        var debug = harness.Check(Request("orders.example.com", "/orders/1", token: acme, headers: [("x-debug", "1")]));
        Assert.Equal("rule 2 of route 'read' failed: not (header 'x-debug' present)", debug.Status.Message);

        var unowned = harness.Check(Request("orders.example.com", "/other"));
        Assert.Equal(403, Status(unowned));
        Assert.Equal("no route of service 'orders' matches this request", unowned.Status.Message);

        Assert.Equal(401, Status(harness.Check(Request("orders.example.com", "/orders/1"))));
        Assert.Equal(200, Status(harness.Check(Request("orders.example.com", "/healthz"))));
    }

    [Fact]
    public void An_allow_names_the_service_and_route_in_metadata_and_sets_identity_headers()
    {
        var harness = new ServiceHarness(("orders.yaml", Orders));
        var response = harness.Check(Request("orders.example.com", "/orders/1", token: Token(""","tenant":"acme" """), headers: [("x-user-id", "forged")]));
        Assert.Equal("user-1", Header(response.OkResponse.Headers, "x-user-id"));
        Assert.Equal("orders", response.DynamicMetadata.Fields["service"].StringValue);
        Assert.Equal("read", response.DynamicMetadata.Fields["route"].StringValue);
        Assert.Equal("corp", response.DynamicMetadata.Fields["jwt"].StructValue.Fields["provider"].StringValue);
    }

    [Fact]
    public void Overlapping_owners_are_an_error_at_both_entries_naming_the_other()
    {
        const string Clash = """
            service: orders-v2
            owns:
              - { host: api.example.com, path_prefix: /orders/v2 }
            routes:
              - { name: all, match: { path_prefix: /orders/v2 }, requires: allow }
            """;
        var errors = TestConfig.Errors(("00-providers.yaml", Providers), ("orders.yaml", Orders), ("v2.yaml", Clash));
        Assert.Equal(
            [
                "orders.yaml:4:5: service 'orders' owns api.example.com/orders, which overlaps api.example.com/orders/v2 owned by service 'orders-v2' at v2.yaml:3:5",
                "v2.yaml:3:5: service 'orders-v2' owns api.example.com/orders/v2, which overlaps api.example.com/orders owned by service 'orders' at orders.yaml:4:5",
            ],
            errors);

        const string WholeHost = """
            service: site
            owns: [{ host: API.example.com }]
            routes: [{ name: all, match: {}, requires: allow }]
            """;
        Assert.Contains(TestConfig.Errors(("00-providers.yaml", Providers), ("orders.yaml", Orders), ("site.yaml", WholeHost)), e => e.StartsWith("site.yaml:2:8: service 'site' owns api.example.com, which overlaps api.example.com/orders", StringComparison.Ordinal));
    }

    [Fact]
    public void A_route_outside_what_its_service_owns_is_an_error()
    {
        const string Outside = """
            service: billing
            owns:
              - { host: api.example.com, path_prefix: /billing }
            routes:
              - name: users
                match: { path_prefix: /users }
                requires: allow
              - name: other-host
                match: { host: orders.example.com, path_prefix: /billing }
                requires: allow
            """;
        Assert.Equal(
            [
                "billing.yaml:5:5: route 'users' matches /users, outside what service 'billing' owns (api.example.com/billing)",
                "billing.yaml:8:5: route 'other-host' matches orders.example.com/billing, outside what service 'billing' owns (api.example.com/billing)",
            ],
            TestConfig.Errors(("billing.yaml", Outside)));
    }

    [Fact]
    public void Service_names_are_unique_across_files_and_route_names_within_a_service()
    {
        var errors = TestConfig.Errors(("a.yaml", Billing), ("b.yaml", Billing.Replace("/billing", "/billing2", StringComparison.Ordinal)));
        Assert.True(errors.Contains("b.yaml:1:10: service 'billing' is already defined in a.yaml:1:10"), string.Join("\n", errors));

        const string Twice = """
            service: twice
            owns: [{ host: t.example.com }]
            routes:
              - { name: a, match: {}, requires: allow }
              - { name: a, match: {}, requires: deny }
            """;
        var twice = TestConfig.Errors(("twice.yaml", Twice));
        Assert.True(twice.Contains("twice.yaml:5:13: route 'a' is defined twice in service 'twice' (names are unique within a service)"), string.Join("\n", twice));
    }
}
