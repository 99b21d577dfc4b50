using Sidecars.Authorization.Config;
using Sidecars.Config;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Tests.Hardening;

/// <summary>Route paths a normalised request can never have are config errors, not routes that silently never match (issue 7, finding 3).</summary>
public sealed class RouteConfigTests
{
    private static IReadOnlyList<string> Errors(string yaml)
    {
        var diagnostics = new ConfigDiagnostics();
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        var definition = AuthYamlParser.Parse(new YamlReading("a.yaml", diagnostics), (YamlMappingNode)stream.Documents[0].RootNode);
        AuthYamlParser.Compile([definition], diagnostics);
        return [.. diagnostics.Errors.Select(e => e.ToString())];
    }

    [Theory]
    [InlineData("path: /admin/../x", "a.yaml:2:20: 'path' is not in normal form: request paths are normalised, write '/x'")]
    [InlineData("path_prefix: //admin", "a.yaml:2:27: 'path_prefix' is not in normal form: request paths are normalised, write '/admin'")]
    [InlineData("path: /%61dmin", "a.yaml:2:20: 'path' is not in normal form: request paths are normalised, write '/admin'")]
    [InlineData("path: /a%2fb", "a.yaml:2:20: 'path' is not in normal form: request paths are normalised, write '/a%2Fb'")]
    [InlineData("path: /a?x=1", "a.yaml:2:20: 'path' must not contain '?' or '#' (the query is never matched)")]
    [InlineData("path: admin", "a.yaml:2:20: 'path' is not in origin form (it must start with '/')")]
    [InlineData("path_prefix: /a\\\\b", "a.yaml:2:27: 'path_prefix' contains a backslash")]
    [InlineData("host: admin.example.com:443", "a.yaml:2:20: 'host' must be a name without a port (ports are ignored)")]
    [InlineData("host: 'admin..example.com'", "a.yaml:2:20: 'host' is not a valid name")]
    [InlineData("host: '*.exa mple.com'", "a.yaml:2:20: 'host' is not a valid name")]
    public void Route_path_that_no_request_can_have_is_a_located_error(string match, string error)
    {
        var errors = Errors($"routes:\n  - match: {{ {match} }}\n    requires: allow\n");
        Assert.Equal(error, Assert.Single(errors));
    }

    [Theory]
    [InlineData("path: /admin")]
    [InlineData("path_prefix: /admin/")]
    [InlineData("path_prefix: /")]
    [InlineData("path: /a%2Fb;v=1")]
    [InlineData("host: Admin.Example.com.")]
    [InlineData("host: '*.example.com'")]
    [InlineData("host: '[::1]'")]
    public void Normal_route_path_is_accepted(string match) =>
        Assert.Empty(Errors($"routes:\n  - match: {{ {match} }}\n    requires: allow\n"));
}
