using System.Text;
using Sidecars.Config;
using Sidecars.Tests.Authorization.Services;
using static Sidecars.Tests.Authorization.Services.ServiceHarness;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 9: the path safety of shared routes holds across owners — no reading of a path (dot segments, encoded
/// slashes, ';' parameters, repeated slashes, letter case, host spelling) lets a request of one service's space be
/// decided by another's permissive route; and a service's space never falls through to a shared allow.
/// </summary>
public sealed class ServiceRouteBypassTests
{
    private const string Public = """
        service: public
        owns: [{ host: api.example.com, path_prefix: /public }]
        routes:
          - { name: all, match: {}, requires: allow }
        """;

    private const string Admin = """
        service: admin
        owns: [{ host: api.example.com, path_prefix: /admin }, { host: admin.example.com }]
        routes:
          - { name: all, match: {}, requires: { provider: corp } }
        """;

    private const string SharedAllow = """
        routes:
          - { name: everything, match: { path_prefix: / }, requires: allow }
        """;

    private static readonly ServiceHarness Harness = new(("admin.yaml", Admin), ("public.yaml", Public), ("shared.yaml", SharedAllow));

    [Theory]
    [InlineData("api.example.com", "/public/x", 200)]
    [InlineData("API.example.com.", "/public/x", 200)]
    [InlineData("api.example.com:443", "/public/x?a=1", 200)]
    [InlineData("api.example.com", "/admin/x", 401)]
    [InlineData("admin.example.com", "/public/x", 401)]
    [InlineData("api.example.com", "/other", 200)]
    public void Owners_decide_their_space_and_the_rest_falls_to_shared_routes(string host, string path, int expected) =>
        Assert.Equal(expected, Status(Harness.Check(Request(host, path))));

    [Theory]
    [InlineData("/public/../admin/x")]
    [InlineData("/public/./../admin")]
    [InlineData("/public/%2e%2e/admin")]
    [InlineData("/public/..%2fadmin")]
    [InlineData("/public%2f..%2fadmin")]
    [InlineData("/public/..;/admin")]
    [InlineData("/public;x/../admin")]
    [InlineData("//admin")]
    [InlineData("/Admin/x")]
    [InlineData("/ADMIN")]
    [InlineData("/%61dmin")]
    [InlineData("/public/%252e%252e/admin")]
    [InlineData("/public\\..\\admin")]
    public void No_reading_of_a_path_reaches_admin_through_a_permissive_owner(string path)
    {
        var status = Status(Harness.Check(Request("api.example.com", path)));
        Assert.True(status is 400 or 401, $"{path}: {status}");
    }

    [Fact]
    public void A_service_space_does_not_fall_through_to_a_shared_allow()
    {
        const string Narrow = """
            service: narrow
            owns: [{ host: narrow.example.com }]
            routes:
              - { name: read, match: { path_prefix: /read, methods: [GET] }, requires: allow }
            """;
        var harness = new ServiceHarness(("narrow.yaml", Narrow), ("shared.yaml", SharedAllow));
        Assert.Equal(200, Status(harness.Check(Request("narrow.example.com", "/read"))));
        Assert.Equal(403, Status(harness.Check(Request("narrow.example.com", "/read", method: "DELETE"))));
        Assert.Equal(403, Status(harness.Check(Request("narrow.example.com", "/write"))));
    }

    /// <summary>Random service files (mutations of valid ones) compile to a snapshot or to located errors, never an exception.</summary>
    [Fact]
    public void Mutated_service_files_are_located_errors_never_exceptions()
    {
        var random = new Random(9009);
        var seeds = new[] { Admin, Public, File.ReadAllText(Example("orders.yaml")), File.ReadAllText(Example("public.yaml")) };
        for (var i = 0; i < 1500; i++)
        {
            var text = Encoding.UTF8.GetString(Sidecars.Tests.Server.Fuzz.FuzzInputs.Mutate(random, Encoding.UTF8.GetBytes(seeds[i % seeds.Length])));
            var diagnostics = new ConfigDiagnostics();
            var snapshot = ConfigLoader.Compile([new ConfigSource("00-providers.yaml", Providers), new ConfigSource("svc.yaml", text)], diagnostics);
            Assert.True(snapshot is not null || diagnostics.Errors.Count > 0, text);
            foreach (var error in diagnostics.Errors)
            {
                Assert.False(error.Message.Contains("cannot be compiled", StringComparison.Ordinal) || error.Message.Contains("cannot read this", StringComparison.Ordinal), $"{error}\n--- from ---\n{text}");
            }
        }
    }

    /// <summary>Random requests against the example policies: always one of the documented statuses, never an exception.</summary>
    [Fact]
    public void Random_requests_get_a_documented_status()
    {
        var harness = new ServiceHarness(
            ("orders.yaml", File.ReadAllText(Example("orders.yaml"))),
            ("public.yaml", File.ReadAllText(Example("public.yaml"))));
        var random = new Random(909);
        string[] hosts = ["orders.example.com", "api.example.com", "www.example.com", "WWW.EXAMPLE.COM.", "x", "", "a..b", "[::1]:80"];
        string[] paths = ["/orders/1", "/partner/x", "/catalog/a", "/beta/b", "/orders/../partner", "/%2e%2e/orders", "", "*", "/a?b#c", "/partner%2fx"];
        for (var i = 0; i < 2000; i++)
        {
            var request = Request(
                hosts[random.Next(hosts.Length)],
                paths[random.Next(paths.Length)] + (random.Next(4) == 0 ? new string('/', random.Next(5)) : string.Empty),
                method: random.Next(3) == 0 ? "POST" : "GET",
                token: random.Next(2) == 0 ? Token(""","tenant":"acme","scope":"orders:read orders:write" """) : null,
                headers: random.Next(3) == 0 ? [("x-api-key", "partner-demo-key-0001")] : [],
                sourceIp: random.Next(4) == 0 ? "not an ip" : "203.0.113." + random.Next(256));
            var status = Status(harness.Check(request));
            Assert.Contains(status, new[] { 200, 400, 401, 403, 429 });
        }
    }

    private static string Example(string file)
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root!.FullName, "Sidecars.sln")))
        {
            root = root.Parent;
        }

        return Path.Combine(root.FullName, "examples", "services", file);
    }
}
