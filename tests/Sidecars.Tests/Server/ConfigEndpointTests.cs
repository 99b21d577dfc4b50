using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Sidecars.Tests.Authorization.Services;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>
/// Issue 10, <c>GET /config</c>: the active generation and each file's checksum, load time and last error, over the
/// real server; a rejected edit shows as that file's error with its active version (and its load time) unchanged;
/// nothing of the config's secrets is in the body.
/// </summary>
public sealed class ConfigEndpointTests
{
    private static readonly string KeyHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("a-partner-key")));

    private static string Orders(string requires = "{ api_key: partner }") => $$"""
        service: orders
        owns: [{ host: orders.example.com }]
        routes:
          - { name: all, match: { path_prefix: / }, requires: {{requires}} }
        api_keys:
          - name: partner
            from_headers: [{ name: x-api-key }]
            keys:
              - { id: acme, sha256: "{{KeyHash}}" }
        """;

    private static async Task<JsonElement> Config(SidecarServer server) =>
        JsonDocument.Parse(await server.Http.GetStringAsync("/config")).RootElement;

    private static JsonElement File(JsonElement config, string name) =>
        config.GetProperty("files").EnumerateArray().Single(f => f.GetProperty("file").GetString()!.EndsWith(name, StringComparison.Ordinal));

    [Fact]
    public async Task Shows_each_files_active_version_and_its_last_error_and_no_secret()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("00-providers.yaml", ServiceHarness.Providers);
        directory.Write("orders.yaml", Orders());
        await using var server = await SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?> { ["Sidecars:ReloadPollInterval"] = "00:00:00.2" });

        var body = await server.Http.GetStringAsync("/config");
        var first = JsonDocument.Parse(body).RootElement;
        Assert.Equal(1, first.GetProperty("generation").GetInt64());
        Assert.Equal(0, first.GetProperty("failed_reloads").GetInt64());
        Assert.Equal(0, first.GetProperty("last_errors").GetArrayLength());
        var activeSince = first.GetProperty("active_since").GetDateTimeOffset();
        Assert.InRange(activeSince, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddSeconds(1));
        var orders = File(first, "orders.yaml");
        Assert.Equal(1, orders.GetProperty("generation").GetInt64());
        Assert.Matches("^[0-9a-f]{16}$", orders.GetProperty("checksum").GetString());
        Assert.Equal(activeSince, orders.GetProperty("loaded_at").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, orders.GetProperty("last_error").ValueKind);
        Assert.Equal(2, first.GetProperty("files").GetArrayLength());

        // Nothing secret: neither the key's hash nor any part of the provider's JWKS, nor the key itself.
        Assert.DoesNotContain(KeyHash, body, StringComparison.Ordinal);
        Assert.DoesNotContain(KeyHash[..16], body, StringComparison.Ordinal);
        Assert.DoesNotContain("a-partner-key", body, StringComparison.Ordinal);
        var modulus = JsonDocument.Parse(ServiceHarness.Jwks()).RootElement.GetProperty("keys")[0].GetProperty("n").GetString()!;
        Assert.DoesNotContain(modulus[..24], body, StringComparison.Ordinal);

        // Read-only: another method is refused, a query changes nothing.
        using (var post = await server.Http.PostAsync("/config", new StringContent("{}")))
        {
            Assert.Equal(System.Net.HttpStatusCode.MethodNotAllowed, post.StatusCode);
        }

        Assert.Equal(body, await server.Http.GetStringAsync("/config?generation=99&file=../../etc/passwd"));

        // A broken edit: rejected alone, located, the active version and its load time unchanged.
        directory.Write("orders.yaml", Orders().Replace("match:", "mtach:", StringComparison.Ordinal));
        Assert.True(await Eventually.TrueAsync(async () => File(await Config(server), "orders.yaml").GetProperty("last_error").ValueKind == JsonValueKind.String), "the broken edit never showed");
        var broken = await Config(server);
        var brokenOrders = File(broken, "orders.yaml");
        Assert.Contains("orders.yaml:4:", brokenOrders.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(orders.GetProperty("checksum").GetString(), brokenOrders.GetProperty("checksum").GetString());
        Assert.Equal(orders.GetProperty("loaded_at").GetDateTimeOffset(), brokenOrders.GetProperty("loaded_at").GetDateTimeOffset());
        Assert.Equal(1, broken.GetProperty("generation").GetInt64());

        // Fixed with a change: a new generation, a new version of the file, loaded later.
        directory.Write("orders.yaml", Orders("allow"));
        Assert.True(await Eventually.TrueAsync(async () => (await Config(server)).GetProperty("generation").GetInt64() == 2), "the fix was not applied");
        var fixedConfig = await Config(server);
        var fixedOrders = File(fixedConfig, "orders.yaml");
        Assert.Equal(2, fixedOrders.GetProperty("generation").GetInt64());
        Assert.NotEqual(orders.GetProperty("checksum").GetString(), fixedOrders.GetProperty("checksum").GetString());
        Assert.True(fixedOrders.GetProperty("loaded_at").GetDateTimeOffset() >= orders.GetProperty("loaded_at").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, fixedOrders.GetProperty("last_error").ValueKind);
        Assert.Equal(1, File(fixedConfig, "00-providers.yaml").GetProperty("generation").GetInt64());
    }
}
