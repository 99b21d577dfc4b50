using Sidecars.Config;

namespace Sidecars.Tests.Config;

/// <summary>Golden bad configs in Config/Bad: each file's errors must read exactly as its .errors file says.</summary>
public sealed class ConfigErrorTests
{
    private static readonly string BadDirectory = Path.Combine(AppContext.BaseDirectory, "Config", "Bad");

    [Theory]
    [InlineData("empty_domain")]
    [InlineData("missing_domain")]
    [InlineData("empty_key")]
    [InlineData("duplicate_composite_key")]
    [InlineData("nested_duplicate_key")]
    [InlineData("bad_unit")]
    [InlineData("unlimited_with_unit")]
    [InlineData("replaces_self")]
    [InlineData("empty_replaces")]
    [InlineData("unknown_key")]
    [InlineData("unknown_limit_key")]
    [InlineData("bad_requests_per_unit")]
    [InlineData("invalid_yaml")]
    [InlineData("bad_algorithm")]
    [InlineData("burst_with_fixed_window")]
    [InlineData("both_rate_limit_forms")]
    [InlineData("duplicate_unit_in_rate_limits")]
    [InlineData("several_errors")]
    public void Bad_config_is_reported_with_file_line_and_column(string name)
    {
        var source = new ConfigSource(name + ".yaml", File.ReadAllText(Path.Combine(BadDirectory, name + ".yaml")));
        var expected = File.ReadAllLines(Path.Combine(BadDirectory, name + ".errors"));
        var diagnostics = new ConfigDiagnostics();

        var snapshot = ConfigLoader.Compile([source], diagnostics);

        Assert.Null(snapshot);
        Assert.Equal(expected, diagnostics.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Duplicate_domain_across_files_names_both_files()
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile(
            [new ConfigSource("a.yaml", "domain: d\n"), new ConfigSource("b.yaml", "# other\ndomain: d\n")],
            diagnostics);
        Assert.Null(snapshot);
        Assert.Equal("b.yaml:2:9: duplicate domain 'd' in config file (first defined in a.yaml:1)", Assert.Single(diagnostics.Errors).ToString());
    }

    [Fact]
    public void Validate_reads_every_yaml_file_of_a_directory_in_name_order()
    {
        using var directory = new Infrastructure.TempConfigDirectory();
        directory.Write("b.yaml", "domain: b\n");
        directory.Write("a.yml", "domain: a\n");
        directory.Write("notes.txt", "not config");
        directory.Write(".hidden.yaml", "not: config");
        var snapshot = ConfigLoader.LoadDirectory(directory.Path);
        Assert.Equal(["a.yml", "b.yaml"], snapshot.Files.Select(Path.GetFileName));
        Assert.Equal(2, snapshot.RateLimits.Domains.Count);
    }

    [Fact]
    public void Envoyproxy_ratelimit_example_config_loads_unchanged()
    {
        // The shape of envoyproxy/ratelimit's README examples: nested descriptors, key-only defaults,
        // unlimited, shadow_mode, detailed_metric, replaces, and YAML 1.1 booleans.
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile([new ConfigSource("rl.yaml", """
            ---
            domain: mongo_cps
            descriptors:
              - key: database
                value: users
                rate_limit:
                  unit: second
                  requests_per_unit: 500
              - key: database
                value: default
                rate_limit:
                  unit: second
                  requests_per_unit: 500
              - key: remote_address
                detailed_metric: true
                rate_limit:
                  unit: hour
                  requests_per_unit: 10
              - key: source_cluster
                value: proxy
                descriptors:
                  - key: destination_cluster
                    value: bar
                    shadow_mode: yes
                    rate_limit:
                      name: bar
                      unit: minute
                      requests_per_unit: 1000
                  - key: destination_cluster
                    value: baz
                    rate_limit:
                      unlimited: true
                  - key: destination_cluster
                    rate_limit:
                      unit: week
                      requests_per_unit: 10
                      replaces:
                        - name: bar
            """)], diagnostics);
        Assert.Empty(diagnostics.Errors);
        Assert.NotNull(snapshot);
        Assert.Equal(6, snapshot.RateLimits.LimitCount);
    }
}

public sealed class MixedConfigTests
{
    [Fact]
    public void Rate_limit_and_authorization_files_load_side_by_side()
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile(
            [
                new ConfigSource("edge.yaml", "domain: edge\ndescriptors:\n  - key: user\n    rate_limit: { unit: second, requests_per_unit: 5 }\n"),
                new ConfigSource("auth.yaml", "routes:\n  - match: { path_prefix: / }\n    requires: allow\ndefault: deny\n"),
            ],
            diagnostics);
        Assert.Empty(diagnostics.Errors);
        Assert.Single(snapshot!.RateLimits.Domains);
        Assert.Single(snapshot.Auth.Routes);
    }

    [Fact]
    public void A_file_cannot_be_both_a_domain_and_an_authorization_file()
    {
        var diagnostics = new ConfigDiagnostics();
        Assert.Null(ConfigLoader.Compile([new ConfigSource("both.yaml", "domain: edge\nroutes: []\n")], diagnostics));
        Assert.Equal(
            "both.yaml:1:1: a file is either a rate limit domain ('domain') or an authorization file ('providers', 'routes', 'default'), not both",
            Assert.Single(diagnostics.Errors).ToString());
    }

    [Fact]
    public void Local_jwks_that_cannot_be_read_is_a_located_error()
    {
        var diagnostics = new ConfigDiagnostics();
        Assert.Null(ConfigLoader.Compile(
            [new ConfigSource("/nonexistent-dir/auth.yaml", "providers:\n  - name: corp\n    local_jwks: { file: missing.json }\n")],
            diagnostics));
        Assert.StartsWith("/nonexistent-dir/auth.yaml:2:5: provider 'corp': local_jwks file 'missing.json' does not exist", Assert.Single(diagnostics.Errors).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Local_jwks_file_of_a_directory_given_relative_to_the_working_directory_is_read()
    {
        // `sidecars serve --config ./config` names its files relatively; the key file is beside them.
        using var directory = new Sidecars.Tests.Infrastructure.TempConfigDirectory();
        var p = Sidecars.Tests.Authentication.TestTokens.Rsa.ExportParameters(false);
        directory.Write("keys.json", $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{System.Buffers.Text.Base64Url.EncodeToString(p.Modulus)}}","e":"{{System.Buffers.Text.Base64Url.EncodeToString(p.Exponent)}}"}]}""");
        directory.Write("auth.yaml", "providers:\n  - name: corp\n    local_jwks: { file: keys.json }\n");
        var relative = Path.GetRelativePath(Environment.CurrentDirectory, directory.Path);
        Assert.False(Path.IsPathRooted(relative));

        var snapshot = ConfigLoader.LoadDirectory(relative);

        Assert.Contains("corp", snapshot.Auth.Providers.Keys);
    }
}

/// <summary>Found by the service-file fuzz (issue 9): input on which YamlDotNet's scanner throws InvalidOperationException, not a YamlException.</summary>
public sealed class YamlScannerFailureTests
{
    [Fact]
    public void A_scanner_failure_is_the_files_own_located_error()
    {
        const string Broken = "service: orders\nowns:\n  - { host: orders.example.com }\n  - { host: api.example.com, path_prefix: /orders \nmode: enforce\nroutes:\n  - name: health\n\uFFFD   match: { path: /healthz }\n";
        var errors = Sidecars.Tests.Infrastructure.TestConfig.Errors(("a-good.yaml", "domain: d\ndescriptors: [{ key: k }]\n"), ("b-broken.yaml", Broken));
        var error = Assert.Single(errors);
        Assert.StartsWith("b-broken.yaml:3:32: ", error, StringComparison.Ordinal);
        Assert.Contains("invalid YAML: the parser stopped after this point", error, StringComparison.Ordinal);
    }
}
