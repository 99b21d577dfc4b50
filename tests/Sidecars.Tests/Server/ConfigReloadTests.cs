using System.Text.Json;
using Envoy.Service.Ratelimit.V3;
using Sidecars.Config;
using Sidecars.Tests.Infrastructure;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Server;

/// <summary>Hot reload on the real server: the watcher, the poll, and the last good config staying active.</summary>
public sealed class ConfigReloadTests
{
    private static string Limit(uint rpu) => $$"""
        domain: edge
        descriptors:
          - key: user
            rate_limit: { unit: minute, requests_per_unit: {{rpu}} }
        """;

    private static async Task<uint> CurrentLimit(RateLimitService.RateLimitServiceClient client) =>
        (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("edge", [("user", Guid.NewGuid().ToString())]))).Statuses[0].CurrentLimit?.RequestsPerUnit ?? 0;

    private static async Task<JsonElement> Ready(SidecarServer server) =>
        JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement;

    [Fact]
    public async Task Valid_change_is_applied_and_a_new_generation_published()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();
        Assert.Equal(5u, await CurrentLimit(client));

        directory.Write("edge.yaml", Limit(7));
        Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(client) == 7));
        Assert.Equal(2, (await Ready(server)).GetProperty("generation").GetInt64());
    }

    [Fact]
    public async Task Added_and_renamed_files_are_picked_up()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();

        // Editors and tools write a temporary file, then rename it over the target.
        var temp = directory.Write("edge.yaml.tmp", Limit(9));
        File.Move(temp, Path.Combine(directory.Path, "edge.yaml"), overwrite: true);
        Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(client) == 9));

        directory.Write("api.yaml", "domain: api\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n");
        Assert.True(await Eventually.TrueAsync(async () =>
            (await client.ShouldRateLimitAsync(RateLimitServiceTests.Request("api", [("k", "v")]))).Statuses[0].CurrentLimit is not null));
    }

    [Fact]
    public async Task Invalid_change_is_rejected_and_the_last_good_config_keeps_serving()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limit(5));
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();

        directory.Write("edge.yaml", Limit(6).Replace("unit: minute", "unit: fortnight", StringComparison.Ordinal));
        Assert.True(await Eventually.TrueAsync(async () => (await Ready(server)).GetProperty("failed_reloads").GetInt64() == 1));

        var ready = await Ready(server);
        Assert.True(ready.GetProperty("ready").GetBoolean());
        Assert.Equal(1, ready.GetProperty("generation").GetInt64());
        var error = Assert.Single(ready.GetProperty("last_errors").EnumerateArray()).GetString();
        Assert.Equal(Path.Combine(directory.Path, "edge.yaml") + ":4:25: invalid rate limit unit 'fortnight' (valid: second, minute, hour, day, week, month, year)", error);
        Assert.Equal(5u, await CurrentLimit(client));
        Assert.Equal(1, server.Services.GetService(typeof(ConfigState)) is ConfigState state ? state.FailedReloads : -1);

        // Fixing the file applies it and clears the error.
        directory.Write("edge.yaml", Limit(8));
        Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(client) == 8));
        Assert.Empty((await Ready(server)).GetProperty("last_errors").EnumerateArray());
    }

    [Fact]
    public async Task Kubernetes_configmap_symlink_swap_is_applied()
    {
        // A ConfigMap volume: edge.yaml -> ..data/edge.yaml, ..data -> ..<timestamp>/; an update writes a new
        // timestamped directory and atomically renames a new ..data symlink over the old one.
        using var directory = new TempConfigDirectory();
        var first = Path.Combine(directory.Path, "..2026_01_01_00_00_00.1");
        Directory.CreateDirectory(first);
        File.WriteAllText(Path.Combine(first, "edge.yaml"), Limit(5));
        File.CreateSymbolicLink(Path.Combine(directory.Path, "..data"), first);
        File.CreateSymbolicLink(Path.Combine(directory.Path, "edge.yaml"), Path.Combine("..data", "edge.yaml"));

        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = server.RateLimitClient();
        Assert.Equal(5u, await CurrentLimit(client));

        var second = Path.Combine(directory.Path, "..2026_01_01_00_01_00.2");
        Directory.CreateDirectory(second);
        File.WriteAllText(Path.Combine(second, "edge.yaml"), Limit(11));
        var temp = Path.Combine(directory.Path, "..data_tmp");
        File.CreateSymbolicLink(temp, second);
        Rename(temp, Path.Combine(directory.Path, "..data"));
        Directory.Delete(first, recursive: true);

        Assert.True(await Eventually.TrueAsync(async () => await CurrentLimit(client) == 11));
        var ready = await Ready(server);
        Assert.Equal(2, ready.GetProperty("generation").GetInt64());
        Assert.Equal([Path.Combine(directory.Path, "edge.yaml")], ready.GetProperty("files").EnumerateArray().Select(f => f.GetString()));
    }

    /// <summary>rename(2) of a symlink over another, as the kubelet does; mv -T does exactly that.</summary>
    private static void Rename(string from, string to)
    {
        using var mv = System.Diagnostics.Process.Start("mv", ["-T", from, to]);
        Assert.True(mv.WaitForExit(10_000));
        Assert.Equal(0, mv.ExitCode);
    }

    [Fact]
    public async Task Invalid_config_at_start_stops_the_server_with_every_error()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("a.yaml", "domain: a\ndescriptors:\n  - key: \"\"\n");
        directory.Write("b.yaml", "domain: b\nbogus: 1\n");
        var error = await Assert.ThrowsAsync<ConfigException>(() => SidecarServer.StartAsync(directory.Path));
        Assert.Equal(
            [
                Path.Combine(directory.Path, "a.yaml") + ":3:10: descriptor has empty key",
                Path.Combine(directory.Path, "b.yaml") + ":2:1: config error, unknown key 'bogus' in a rate limit config file (valid keys: domain, descriptors, on_backend_error, hash_tag)",
            ],
            error.Errors.Select(e => e.ToString()));
    }
}
