using System.Diagnostics;
using Sidecars.Authorization.Services;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>Issue 9: <c>sidecars test</c>, <c>explain</c> and <c>hash-key</c> on the native binary, over examples/services.</summary>
public sealed class PolicyToolsTests
{
    private static string Examples()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Sidecars.sln")))
        {
            root = root.Parent;
        }

        return Path.Combine(root!.FullName, "examples", "services");
    }

    private static (int Code, string Out, string Err) Run(string? stdin, params string[] args)
    {
        var start = new ProcessStartInfo(AotBinary.Path(), args) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null };
        using var process = Process.Start(start)!;
        if (stdin is not null)
        {
            process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }

        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        Assert.True(process.WaitForExit(60_000), "the binary did not exit");
        return (process.ExitCode, output.Result, error.Result);
    }

    private static TempConfigDirectory CopyOfExamples()
    {
        var directory = new TempConfigDirectory();
        foreach (var file in Directory.EnumerateFiles(Examples()))
        {
            directory.Write(Path.GetFileName(file), File.ReadAllText(file));
        }

        return directory;
    }

    [Fact]
    public void The_examples_pass_their_own_tests()
    {
        var (code, output, error) = Run(null, "test", Examples());
        Assert.True(code == 0, output + error);
        Assert.Equal("13 passed, 0 failed", output.Trim());
    }

    [Fact]
    public void A_failing_case_is_one_located_line_and_exit_1()
    {
        using var directory = CopyOfExamples();
        directory.Write("broken.test.yaml", """
            cases:
              - name: an unknown tenant is expected to pass
                request:
                  host: orders.example.com
                  path: /orders/1
                  token: { provider: corp, claims: { sub: eve, tenant: umbrella, scope: "orders:read" } }
                expect: { status: 200 }
              - name: a header that is not there
                request: { host: www.example.com, path: /catalog, source_ip: 192.0.2.1 }
                expect: { status: 200, headers: { x-tenant: acme } }
              - name: the reason differs
                request: { host: www.example.com, path: /partner }
                expect: { status: 401, reason: "expired" }
            """);
        var (code, output, _) = Run(null, "test", directory.Path);
        Assert.Equal(1, code);
        Assert.Equal(
            [
                "broken.test.yaml:2: an unknown tenant is expected to pass: expected status 200, got 403 (rule 1 of route 'read' failed: claim 'tenant' in [acme, globex])",
                "broken.test.yaml:8: a header that is not there: expected header x-tenant: acme, got no such header",
                "broken.test.yaml:11: the reason differs: expected a reason containing 'expired', got 'an API key is required'",
                "13 passed, 3 failed",
            ],
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
    }

    [Fact]
    public void A_broken_policy_fails_the_run_with_its_location()
    {
        using var directory = CopyOfExamples();
        directory.Write("orders.yaml", File.ReadAllText(Path.Combine(Examples(), "orders.yaml")).Replace("in: [acme, globex]", "inn: [acme]", StringComparison.Ordinal));
        var (code, _, error) = Run(null, "test", directory.Path);
        Assert.Equal(1, code);
        Assert.Contains("orders.yaml:15:32: config error, unknown key 'inn' in a claim rule", error, StringComparison.Ordinal);
        Assert.Contains("no test was run", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Explain_shows_the_owner_routes_requirement_rules_limits_and_decision()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("request.yaml", """
            host: api.example.com
            path: /orders/7
            token: { provider: corp, claims: { sub: bob, tenant: umbrella, scope: "orders:read" } }
            """);
        var (code, output, error) = Run(null, "explain", "--config", Examples(), "--request", Path.Combine(directory.Path, "request.yaml"));
        Assert.True(code == 0, output + error);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal("request: GET api.example.com/orders/7", lines[0]);
        Assert.Contains(lines, l => l.StartsWith("owner: service 'orders'", StringComparison.Ordinal) && l.Contains("owns api.example.com/orders", StringComparison.Ordinal));
        Assert.Contains("route 'health': no match (path is not /healthz)", lines);
        Assert.Contains("route 'read': matches", lines);
        Assert.Contains("requires a token of provider 'corp' with scopes orders:read: met (sub 'bob')", lines);
        Assert.Contains("rule 1 claim 'tenant' in [acme, globex]: fails", lines);
        Assert.Contains("rule 2 not (header 'x-debug' present): holds", lines);
        Assert.Contains("limits: not charged (a rule failed)", lines);
        Assert.Contains("decision: 403 rule 1 of route 'read' failed: claim 'tenant' in [acme, globex]", lines);

        directory.Write("request.yaml", """
            host: orders.example.com
            path: /orders/7
            token: { provider: corp, claims: { sub: bob, tenant: acme, scope: "orders:read" } }
            """);
        (code, output, _) = Run(null, "explain", "--config", Examples(), "--request", Path.Combine(directory.Path, "request.yaml"));
        Assert.Equal(0, code);
        Assert.Contains("limit 'per-user' (claim:sub=bob): 100 per minute, 19 left after this call (fresh buckets)", output, StringComparison.Ordinal);
        Assert.Contains("decision: 200 allowed", output, StringComparison.Ordinal);
        Assert.Contains("header x-user-id: bob", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Hash_key_reads_the_key_from_stdin()
    {
        var (code, output, _) = Run("partner-demo-key-0001\n", "hash-key");
        Assert.Equal(0, code);
        Assert.Equal(ApiKeySet.HashOf("partner-demo-key-0001"), output.Trim());
        Assert.Contains(output.Trim(), File.ReadAllText(Path.Combine(Examples(), "public.yaml")), StringComparison.Ordinal);
    }
}
