using Envoy.Service.Auth.V3;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

public sealed class AuthorizationReloadTests
{
    private static CheckRequest Check(string path) => new()
    {
        Attributes = new AttributeContext
        {
            Request = new AttributeContext.Types.Request { Http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "h", Path = path } },
        },
    };

    [Fact]
    public async Task Routes_are_hot_reloaded_and_a_bad_change_keeps_the_last_good_ones()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", "routes:\n  - match: { path: /x }\n    requires: deny\n");
        await using var server = await SidecarServer.StartAsync(directory.Path);
        var client = new global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient(server.Channel());
        Assert.Equal(7, (await client.CheckAsync(Check("/x"))).Status.Code);

        directory.Write("auth.yaml", "routes:\n  - match: { path: /x }\n    requires: allow\n");
        Assert.True(await Eventually.TrueAsync(async () => (await client.CheckAsync(Check("/x"))).Status.Code == 0));

        // A route naming an unknown provider is rejected; the allow route keeps serving.
        directory.Write("auth.yaml", "routes:\n  - match: { path: /x }\n    requires: { provider: ghost }\n");
        Assert.True(await Eventually.TrueAsync(async () =>
            System.Text.Json.JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement.GetProperty("last_errors").EnumerateArray()
                .Any(e => e.GetString()!.EndsWith("route 'auth.yaml#1' requires unknown provider 'ghost'", StringComparison.Ordinal))));
        Assert.Equal(0, (await client.CheckAsync(Check("/x"))).Status.Code);
    }
}
