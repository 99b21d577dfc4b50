using Sidecars.Tests.Infrastructure;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Authorization.Services;

/// <summary>Issue 9: every rule operator and combinator, each seen to hold and to fail.</summary>
public sealed class ServiceRuleTests
{
    private static ServiceHarness With(string rules, string requires = "{ provider: corp }") => new(("svc.yaml", $"""
        service: svc
        owns: [{"{"} host: svc.example.com {"}"}]
        routes:
          - name: r
            match: {"{"} path_prefix: / {"}"}
            requires: {requires}
            rules:
        {rules}
        """));

    private static int Status(ServiceHarness harness, string? token = null, string method = "GET", string path = "/a", IEnumerable<(string, string)>? headers = null, string? ip = null, string? principal = null, IEnumerable<(string, string)>? context = null) =>
        ServiceHarness.Status(harness.Check(Request("svc.example.com", path, method, token ?? Token(""","tenant":"acme","groups":["dev","ops"],"level":3,"admin":true,"scope":"a b","esc":"a\u0062c d" """), headers, ip, principal, context)));

    [Theory]
    [InlineData("{ name: tenant, equals: acme }", 200)]
    [InlineData("{ name: tenant, equals: globex }", 403)]
    [InlineData("{ name: tenant, in: [globex, acme] }", 200)]
    [InlineData("{ name: tenant, prefix: ac }", 200)]
    [InlineData("{ name: tenant, prefix: gl }", 403)]
    [InlineData("{ name: tenant, regex: 'a[a-z]+' }", 200)]
    [InlineData("{ name: tenant, regex: 'a' }", 403)]
    [InlineData("{ name: groups, contains: ops }", 200)]
    [InlineData("{ name: groups, contains: root }", 403)]
    [InlineData("{ name: scope, contains: b }", 200)]
    [InlineData("{ name: level, equals: '3' }", 200)]
    [InlineData("{ name: admin, in: ['true'] }", 200)]
    [InlineData("{ name: tenant, exists: true }", 200)]
    [InlineData("{ name: missing, exists: true }", 403)]
    [InlineData("{ name: missing, exists: false }", 200)]
    [InlineData("{ name: missing, equals: x }", 403)]
    [InlineData("{ name: esc, prefix: ab }", 200)]
    [InlineData("{ name: esc, prefix: ac }", 403)]
    [InlineData("{ name: esc, contains: abc }", 200)]
    [InlineData("{ name: esc, equals: abc d }", 200)]
    public void Claim_rules(string rule, int expected) =>
        Assert.Equal(expected, Status(With($"      - claim: {rule}")));

    [Theory]
    [InlineData("{ name: x-env, equals: prod }", "prod", 200)]
    [InlineData("{ name: x-env, equals: prod }", "dev", 403)]
    [InlineData("{ name: X-Env, in: [dev, prod] }", "dev", 200)]
    [InlineData("{ name: x-env, prefix: pr }", "prod", 200)]
    [InlineData("{ name: x-env, regex: '(dev|prod)' }", "prod", 200)]
    [InlineData("{ name: x-env, regex: '(dev|prod)' }", "prod2", 403)]
    [InlineData("{ name: x-env, exists: true }", "x", 200)]
    [InlineData("{ name: x-env, exists: false }", "x", 403)]
    [InlineData("{ name: x-env, exists: false }", null, 200)]
    [InlineData("{ name: x-env, equals: prod }", null, 403)]
    public void Header_rules(string rule, string? value, int expected) =>
        Assert.Equal(expected, Status(With($"      - header: {rule}"), headers: value is null ? [] : [("x-env", value)]));

    [Fact]
    public void Method_path_source_principal_and_context_rules()
    {
        var method = With("      - method: [GET, post]");
        Assert.Equal(200, Status(method, method: "POST"));
        Assert.Equal(403, Status(method, method: "DELETE"));

        var path = With("      - path: { prefix: /a }\n      - not: { path: { regex: '/a/admin(/.*)?' } }");
        Assert.Equal(200, Status(path, path: "/a/b"));
        Assert.Equal(403, Status(path, path: "/a/admin/x"));
        Assert.Equal(403, Status(path, path: "/b"));

        var ip = With("      - source_ip: [10.0.0.0/8, 192.168.1.7, '2001:db8::/32']");
        Assert.Equal(200, Status(ip, ip: "10.1.2.3"));
        Assert.Equal(200, Status(ip, ip: "192.168.1.7"));
        Assert.Equal(200, Status(ip, ip: "::ffff:10.9.9.9"));
        Assert.Equal(200, Status(ip, ip: "2001:db8::1"));
        Assert.Equal(403, Status(ip, ip: "192.168.1.8"));
        Assert.Equal(403, Status(ip, ip: "2001:db9::1"));
        Assert.Equal(403, Status(ip));
        Assert.Equal(403, Status(ip, ip: "not-an-ip"));

        var principal = With("      - principal: ['spiffe://example.org/ns/a/sa/web']");
        Assert.Equal(200, Status(principal, principal: "spiffe://example.org/ns/a/sa/web"));
        Assert.Equal(403, Status(principal, principal: "spiffe://example.org/ns/a/sa/other"));
        Assert.Equal(403, Status(principal));

        var context = With("      - context: { key: tier, in: [gold, silver] }");
        Assert.Equal(200, Status(context, context: [("tier", "gold")]));
        Assert.Equal(403, Status(context, context: [("tier", "bronze")]));
        Assert.Equal(403, Status(context));
    }

    [Fact]
    public void Combinators_all_any_not_and_a_list_compose()
    {
        var harness = With("""
                  - any:
                      - claim: { name: tenant, equals: globex }
                      - all:
                          - claim: { name: groups, contains: dev }
                          - not: { header: { name: x-block, exists: true } }
            """);
        Assert.Equal(200, Status(harness));
        Assert.Equal(403, Status(harness, headers: [("x-block", "1")]));
        Assert.Equal(200, Status(harness, token: Token(""","tenant":"globex" """), headers: [("x-block", "1")]));
        var denied = harness.Check(Request("svc.example.com", "/a", headers: [("x-block", "1")], token: Token(""","tenant":"acme","groups":["dev"] """)));
        Assert.Equal(
            "rule 1 of route 'r' failed: (claim 'tenant' equals 'globex' or (claim 'groups' contains 'dev' and not (header 'x-block' present)))",
            denied.Status.Message);
    }

    [Fact]
    public void Rules_without_an_authenticated_identity_see_no_claims()
    {
        var harness = With("      - claim: { name: sub, exists: false }\n      - header: { name: x-a, exists: true }", requires: "allow");
        Assert.Equal(200, ServiceHarness.Status(harness.Check(Request("svc.example.com", "/", headers: [("x-a", "1")]))));
    }

    [Fact]
    public void A_pathological_regex_input_is_matched_in_linear_time_and_bad_rules_are_located_errors()
    {
        // (a+)+$ backtracks exponentially on a run of a's followed by a mismatch; NonBacktracking does not.
        var harness = With("      - header: { name: x-in, regex: '(a+)+b' }");
        Assert.Equal(403, Status(harness, headers: [("x-in", new string('a', 4000) + "!")]));

        var errors = TestConfig.Errors(("00-providers.yaml", Providers), ("svc.yaml", """
            service: svc
            owns: [{ host: svc.example.com }]
            routes:
              - name: r
                match: {}
                requires: allow
                rules:
                  - claim: { name: a, equals: x, in: [y] }
                  - header: { name: x, regex: '(?<=a)b' }
                  - source_ip: [10.0.0.1/8]
                  - sometimes: true
                  - claim: { name: a, regex: '[' }
            """));
        Assert.Equal(
            [
                "svc.yaml:8:16: a claim rule needs 'name' and exactly one of equals, in, prefix, regex, contains, exists",
                "svc.yaml:9:35: regex uses a construct that cannot be matched in linear time (lookarounds, backreferences, atomic groups, conditionals); rewrite it without them",
                "svc.yaml:10:20: 'source_ip' holds '10.0.0.1/8', which is not an address or a CIDR range with its host bits zero (10.0.0.0/8, 2001:db8::/32)",
                "svc.yaml:11:9: unknown rule 'sometimes' (valid: claim, header, method, path, source_ip, principal, context, all, any, not)",
                "svc.yaml:12:34: invalid regex at character 1: unterminated bracket",
            ],
            errors);
    }
}
