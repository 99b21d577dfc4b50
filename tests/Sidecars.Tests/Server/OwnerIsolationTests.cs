using System.Text.Json;
using Envoy.Service.Auth.V3;
using Sidecars.Tests.Authorization.Services;
using Sidecars.Tests.Infrastructure;
using AuthorizationClient = global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient;

namespace Sidecars.Tests.Server;

/// <summary>Issue 9, isolation between owners: one owner's broken file is rejected alone, its last good version stays, and another owner's change still lands.</summary>
public sealed class OwnerIsolationTests
{
    private static string Service(string name, string requires, string extra = "") => $$"""
        service: {{name}}
        owns: [{ host: {{name}}.example.com }]
        routes:
          - name: all
            match: { path_prefix: / }
            requires: {{requires}}
        {{extra}}
        """;

    private static CheckRequest Check(string host) => ServiceHarness.Request(host, "/x");

    private static async Task<JsonElement> Ready(SidecarServer server) =>
        JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement;

    private static JsonElement FileStatus(JsonElement ready, string file) =>
        ready.GetProperty("file_status").EnumerateArray().Single(f => f.GetProperty("file").GetString()!.EndsWith(file, StringComparison.Ordinal));

    /// <summary>The providers, alpha (allow) and, unless told otherwise, beta (deny).</summary>
    private static TempConfigDirectory Owners(bool withBeta = true)
    {
        var directory = new TempConfigDirectory();
        directory.Write("00-providers.yaml", ServiceHarness.Providers);
        directory.Write("alpha.yaml", Service("alpha", "allow"));
        if (withBeta)
        {
            directory.Write("beta.yaml", Service("beta", "deny"));
        }

        return directory;
    }

    /// <summary>A server polling the directory every 0.2 s, so an edit lands within the test's patience even if its file event is missed.</summary>
    private static Task<SidecarServer> Start(TempConfigDirectory directory) =>
        SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?> { ["Sidecars:ReloadPollInterval"] = "00:00:00.2" });

    [Fact]
    public async Task A_broken_owner_file_keeps_its_last_good_version_and_never_blocks_another_owners_change()
    {
        using var directory = Owners();
        await using var server = await Start(directory);
        var client = new AuthorizationClient(server.Channel());
        Assert.Equal(0, (await client.CheckAsync(Check("alpha.example.com"))).Status.Code);
        Assert.Equal(7, (await client.CheckAsync(Check("beta.example.com"))).Status.Code);

        // alpha breaks (a typo) in the same push in which beta opens up.
        directory.Write("alpha.yaml", Service("alpha", "deny").Replace("match:", "mtach:", StringComparison.Ordinal));
        directory.Write("beta.yaml", Service("beta", "allow"));
        Assert.True(await Eventually.TrueAsync(async () => (await client.CheckAsync(Check("beta.example.com"))).Status.Code == 0), "beta's change was not applied");
        Assert.Equal(0, (await client.CheckAsync(Check("alpha.example.com"))).Status.Code);

        var ready = await Ready(server);
        var alpha = FileStatus(ready, "alpha.yaml");
        var beta = FileStatus(ready, "beta.yaml");
        Assert.True(alpha.GetProperty("last_error").GetString()!.Contains("alpha.yaml:4:5: route 'all' needs 'match' and 'requires'", StringComparison.Ordinal), alpha.ToString());
        Assert.Equal(1, alpha.GetProperty("generation").GetInt64());
        Assert.Equal(JsonValueKind.Null, beta.GetProperty("last_error").ValueKind);
        Assert.Equal(2, beta.GetProperty("generation").GetInt64());
        Assert.Equal(16, beta.GetProperty("checksum").GetString()!.Length);
        Assert.True(ready.GetProperty("failed_reloads").GetInt64() >= 1);
        Assert.Contains(ready.GetProperty("last_errors").EnumerateArray(), e => e.GetString()!.Contains("alpha.yaml:5:5: config error, unknown key 'mtach'", StringComparison.Ordinal));

        // A new owner whose first version is broken is left out; the rest keeps serving.
        directory.Write("gamma.yaml", Service("gamma", "allow", "mode: sometimes"));
        Assert.True(await Eventually.TrueAsync(async () =>
            (await Ready(server)).GetProperty("file_status").EnumerateArray().Any(f => f.GetProperty("file").GetString()!.EndsWith("gamma.yaml", StringComparison.Ordinal))));
        var gamma = FileStatus(await Ready(server), "gamma.yaml");
        Assert.Equal(JsonValueKind.Null, gamma.GetProperty("checksum").ValueKind);
        Assert.Contains("invalid mode 'sometimes'", gamma.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(7, (await client.CheckAsync(Check("gamma.example.com"))).Status.Code);

        // Fixed: alpha's new version is applied and its error gone.
        directory.Write("alpha.yaml", Service("alpha", "deny"));
        Assert.True(await Eventually.TrueAsync(async () => (await client.CheckAsync(Check("alpha.example.com"))).Status.Code == 7), "alpha's fix was not applied");
        Assert.Equal(JsonValueKind.Null, FileStatus(await Ready(server), "alpha.yaml").GetProperty("last_error").ValueKind);
    }

    [Fact]
    public async Task An_ownership_conflict_keeps_both_owners_last_good_versions()
    {
        using var directory = Owners();
        await using var server = await Start(directory);
        var client = new AuthorizationClient(server.Channel());

        // beta claims alpha's host: both entries are reported, and alpha keeps deciding its own requests.
        directory.Write("beta.yaml", Service("beta", "deny").Replace("owns: [{ host: beta.example.com }]", "owns: [{ host: beta.example.com }, { host: alpha.example.com, path_prefix: /x }]", StringComparison.Ordinal));
        Assert.True(await Eventually.TrueAsync(async () => (await Ready(server)).GetProperty("last_errors").GetArrayLength() > 0));
        var errors = (await Ready(server)).GetProperty("last_errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(errors, e => e.Contains("beta.yaml:2:36: service 'beta' owns alpha.example.com/x, which overlaps alpha.example.com owned by service 'alpha'", StringComparison.Ordinal));
        Assert.Equal(0, (await client.CheckAsync(Check("alpha.example.com"))).Status.Code);
        Assert.Equal(1, (await Ready(server)).GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task A_broken_platform_file_rejects_the_whole_reload()
    {
        using var directory = Owners(withBeta: false);
        await using var server = await Start(directory);
        var client = new AuthorizationClient(server.Channel());
        directory.Write("00-providers.yaml", ServiceHarness.Providers.Replace("issuer:", "isuer:", StringComparison.Ordinal));
        directory.Write("alpha.yaml", Service("alpha", "deny"));
        Assert.True(await Eventually.TrueAsync(async () => (await Ready(server)).GetProperty("last_errors").GetArrayLength() > 0));
        Assert.Equal(0, (await client.CheckAsync(Check("alpha.example.com"))).Status.Code);
        Assert.Equal(1, (await Ready(server)).GetProperty("generation").GetInt64());
    }
}
