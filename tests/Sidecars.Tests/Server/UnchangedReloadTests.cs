using System.Buffers.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Sidecars.Config;
using Sidecars.Server.Config;
using Sidecars.Server.Hosting;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>
/// The poll reads the directory every few seconds; when neither a config file nor a key file it names changed, the
/// config is not compiled again (on a sidecar's one CPU that compile was a burst every 5 s), and any change still is.
/// </summary>
public sealed class UnchangedReloadTests
{
    private const string Limits = "domain: edge\ndescriptors:\n  - key: user\n    rate_limit: { unit: minute, requests_per_unit: 5 }\n";

    private const string Auth = """
        providers:
          - name: partners
            issuer: https://partners.example.com/
            local_jwks: { file: partners-jwks.json }
        routes:
          - name: api
            match: { path_prefix: /api }
            requires: { provider: partners }
        """;

    private static string Jwks(string kid)
    {
        var p = TestTokens.P256.ExportParameters(false);
        return $$"""{"keys":[{"kty":"EC","kid":"{{kid}}","crv":"P-256","x":"{{Base64Url.EncodeToString(p.Q.X)}}","y":"{{Base64Url.EncodeToString(p.Q.Y)}}"}]}""";
    }

    [Fact]
    public void An_unchanged_directory_is_not_compiled_again_and_every_change_is()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("edge.yaml", Limits);
        directory.Write("auth.yaml", Auth);
        directory.Write("partners-jwks.json", Jwks("ec-1"));
        var state = new ConfigState();
        var reloader = new ConfigReloader(state, Options.Create(new SidecarsOptions { Config = directory.Path }), NullLogger<ConfigReloader>.Instance, TimeProvider.System);
        reloader.LoadInitial();
        Assert.Equal(1, state.Current.Generation);

        for (var i = 0; i < 3; i++)
        {
            Assert.False(reloader.Reload());
        }

        Assert.Equal(0, reloader.Compiles);

        // A key file's bytes are an input too.
        directory.Write("partners-jwks.json", Jwks("ec-2"));
        Assert.True(reloader.Reload());
        Assert.Equal(1, reloader.Compiles);
        Assert.Equal(2, state.Current.Generation);
        Assert.False(reloader.Reload());
        Assert.Equal(1, reloader.Compiles);

        directory.Write("edge.yaml", Limits.Replace("5", "7", StringComparison.Ordinal));
        Assert.True(reloader.Reload());
        Assert.Equal(2, reloader.Compiles);

        // A bad edit is compiled and refused; restoring the active text clears the error without compiling.
        directory.Write("edge.yaml", "domain: [");
        Assert.False(reloader.Reload());
        Assert.NotEmpty(state.LastErrors);
        Assert.Equal(3, reloader.Compiles);
        directory.Write("edge.yaml", Limits.Replace("5", "7", StringComparison.Ordinal));
        Assert.False(reloader.Reload());
        Assert.Empty(state.LastErrors);
        Assert.Equal(3, reloader.Compiles);
        Assert.Equal(3, state.Current.Generation);

        // A key file gone: compiled, refused, the active config keeps serving.
        File.Delete(Path.Combine(directory.Path, "partners-jwks.json"));
        Assert.False(reloader.Reload());
        Assert.Equal(4, reloader.Compiles);
        Assert.NotEmpty(state.LastErrors);
        Assert.Equal(3, state.Current.Generation);
    }
}
