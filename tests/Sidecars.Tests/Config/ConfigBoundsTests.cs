using System.Text;
using Sidecars.Config;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Config;

/// <summary>
/// Issue 7, findings 10, 15, 17 and 20, through the loader <c>sidecars validate</c> and every reload use: what a
/// config may cost, which files are read, and that every failure is one located <c>file:line:col: message</c> line.
/// Each load runs under a bound, so a regression that blocks (a FIFO) fails instead of hanging the run.
/// </summary>
public sealed class ConfigBoundsTests
{
    private const string Limit = "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n";

    private static async Task<IReadOnlyList<string>> ErrorsOf(TempConfigDirectory directory)
    {
        var load = Task.Run(() =>
        {
            try
            {
                ConfigLoader.LoadDirectory(directory.Path);
                return (IReadOnlyList<string>)[];
            }
            catch (ConfigException e)
            {
                return e.Errors.Select(x => x.ToString()).ToList();
            }
        });
        var errors = await load.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.All(errors, e => Assert.DoesNotContain('\n', e));
        return errors;
    }

    private static async Task<string> SingleError(TempConfigDirectory directory) => Assert.Single(await ErrorsOf(directory));

    private static string At(TempConfigDirectory directory, string file, int line, int column, string message) =>
        $"{Path.Combine(directory.Path, file)}:{line}:{column}: {message}";

    [Fact]
    public async Task Hundred_thousand_nested_brackets_are_refused_not_a_stack_overflow()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("d.yaml", "domain: d\ndescriptors: " + new string('[', 100_000));
        Assert.Equal(At(directory, "d.yaml", 2, 77, "config refused: nesting is deeper than 64 levels"), await SingleError(directory));
    }

    [Fact]
    public async Task Self_referencing_alias_is_refused_not_a_stack_overflow()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("d.yaml", "domain: d\ndescriptors: &r [{key: k, descriptors: *r}]\n");
        Assert.Equal(At(directory, "d.yaml", 2, 40, "config refused: alias '*r' is used inside its own anchor (a cycle)"), await SingleError(directory));
    }

    [Fact]
    public async Task Alias_bomb_inside_descriptors_is_refused_before_it_expands()
    {
        // Under 1 KB of text that would expand to 10^7 descriptors (the issue's bomb made 1.1 M limits and 1.4 GB).
        var yaml = new StringBuilder("domain: d\ndescriptors:\n  - &d0 {key: k, rate_limit: {unit: second, requests_per_unit: 1}}\n");
        for (var level = 1; level <= 7; level++)
        {
            yaml.Append($"  - &d{level} {{key: k{level}, descriptors: [{string.Join(", ", Enumerable.Repeat($"*d{level - 1}", 10))}]}}\n");
        }

        using var directory = new TempConfigDirectory();
        directory.Write("d.yaml", yaml.ToString());
        Assert.True(yaml.Length < 1024);
        var error = await SingleError(directory);
        Assert.StartsWith(Path.Combine(directory.Path, "d.yaml") + ":", error);
        Assert.EndsWith(": config refused: more than 1000000 YAML nodes once aliases are expanded", error);
    }

    [Fact]
    public async Task Aliases_cannot_nest_deeper_than_the_depth_bound()
    {
        // Each anchor is shallow, but wrapping one in the next would nest 30 × 20 levels once expanded.
        var yaml = new StringBuilder("domain: d\nhash_tag: bucket\nx:\n");
        yaml.Append("  - &a0 " + new string('[', 20) + new string(']', 20) + "\n");
        for (var i = 1; i < 30; i++)
        {
            yaml.Append($"  - &a{i} " + new string('[', 20) + $"*a{i - 1}" + new string(']', 20) + "\n");
        }

        using var directory = new TempConfigDirectory();
        directory.Write("d.yaml", yaml.ToString());
        Assert.EndsWith("nests the config deeper than 64 levels", await SingleError(directory));
    }

    [Fact]
    public async Task File_over_one_mebibyte_is_refused_unread()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("d.yaml", Limit + "#" + new string('x', ConfigLimits.MaxFileBytes) + "\n");
        Assert.Equal(At(directory, "d.yaml", 1, 1, $"config file is larger than 1048576 bytes ({ConfigLimits.MaxFileBytes + Limit.Length + 2} bytes)"), await SingleError(directory));
    }

    [Fact]
    public async Task Directory_over_the_total_size_or_file_count_is_refused()
    {
        using var big = new TempConfigDirectory();
        var filler = "#" + new string('x', ConfigLimits.MaxFileBytes - 100) + "\n";
        for (var i = 0; i < 5; i++)
        {
            big.Write($"d{i:D2}.yaml", Limit.Replace("domain: d", $"domain: d{i}", StringComparison.Ordinal) + filler);
        }

        Assert.Contains(await ErrorsOf(big), e => e.EndsWith("config refused: the config files add up to more than 4194304 bytes", StringComparison.Ordinal));

        using var many = new TempConfigDirectory();
        for (var i = 0; i <= ConfigLimits.MaxFiles; i++)
        {
            many.Write($"d{i:D4}.yaml", Limit.Replace("domain: d", $"domain: d{i}", StringComparison.Ordinal));
        }

        Assert.Equal($"{many.Path}:1:1: config refused: more than 1000 config files (1001)", await SingleError(many));
    }

    [Fact]
    public async Task Symlink_to_dev_zero_is_not_read()
    {
        using var directory = new TempConfigDirectory();
        File.CreateSymbolicLink(Path.Combine(directory.Path, "x.yaml"), "/dev/zero");
        Assert.Equal(At(directory, "x.yaml", 1, 1, "config file is empty, or is not a regular file (a FIFO, socket or device is never read)"), await SingleError(directory));
    }

    [Fact]
    public async Task Fifo_as_a_config_file_does_not_block_the_load()
    {
        using var directory = new TempConfigDirectory();
        MakeFifo(Path.Combine(directory.Path, "x.yaml"));
        Assert.Equal(At(directory, "x.yaml", 1, 1, "config file is empty, or is not a regular file (a FIFO, socket or device is never read)"), await SingleError(directory));
    }

    internal static void MakeFifo(string path)
    {
        using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [path]);
        Assert.True(mkfifo.WaitForExit(10_000));
        Assert.Equal(0, mkfifo.ExitCode);
    }

    private static string Provider(string localJwks) => $"providers:\n  - name: p\n    local_jwks: {localJwks}\nroutes:\n  - match: {{ path: /x }}\n    requires: {{ provider: p }}\n";

    [Theory]
    [InlineData("{ file: /etc/passwd }", "provider 'p': local_jwks file '/etc/passwd' must be a path relative to the config directory")]
    [InlineData("{ file: ../../../../../../etc/passwd }", "provider 'p': local_jwks file '../../../../../../etc/passwd' must be inside the config directory (after resolving '..' and symbolic links)")]
    [InlineData("{ file: escape.json }", "provider 'p': local_jwks file 'escape.json' must be inside the config directory (after resolving '..' and symbolic links)")]
    [InlineData("{ file: zero.json }", "provider 'p': local_jwks file 'zero.json' must be inside the config directory (after resolving '..' and symbolic links)")]
    [InlineData("{ file: fifo.json }", "provider 'p': local_jwks file 'fifo.json' is empty, or is not a regular file (a FIFO, socket or device is never read)")]
    [InlineData("{ file: big.json }", "provider 'p': local_jwks file 'big.json' is larger than 1048576 bytes (1048577 bytes)")]
    [InlineData("{ inline: '{\"keys\":[1]}' }", "provider 'p': local_jwks 'inline' holds no usable key: key 1: not a JSON object")]
    [InlineData("{ inline: '{\"keys\": [' }", "provider 'p': local_jwks 'inline' holds no usable key: the JWKS is not valid JSON (line 1, byte 11)")]
    [InlineData("{ inline: \"{\\n\\\"keys\\\": [}\" }", "provider 'p': local_jwks 'inline' holds no usable key: the JWKS is not valid JSON (line 2, byte 10)")]
    [InlineData("{ inline: '{\"keys\":[{\"kty\":\"oct\",\"kid\":\"\\ud800\",\"k\":\"AAAA\"}]}' }", "provider 'p': local_jwks 'inline'")]
    [InlineData("{ inline: '{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"e\":\"\",\"n\":\"" + "AQAB" + "\"}]}' }", "provider 'p': local_jwks 'inline'")]
    [InlineData("{ inline: '{\"keys\":[{\"kty\":\"oct\",\"kid\":\"short\",\"k\":\"AAAA\"}]}' }", "provider 'p': local_jwks 'inline' holds no usable key: key 1 (kid 'short'): HMAC key of 24 bits is under 256")]
    public async Task Local_jwks_is_read_only_from_a_bounded_regular_file_inside_the_directory(string localJwks, string expected)
    {
        using var outside = new TempConfigDirectory();
        var secret = outside.Write("secret.json", "{\"keys\":[]}");
        using var directory = new TempConfigDirectory();
        File.CreateSymbolicLink(Path.Combine(directory.Path, "escape.json"), secret);
        File.CreateSymbolicLink(Path.Combine(directory.Path, "zero.json"), "/dev/zero");
        MakeFifo(Path.Combine(directory.Path, "fifo.json"));
        directory.Write("big.json", new string(' ', ConfigLimits.MaxFileBytes + 1));
        directory.Write("auth.yaml", Provider(localJwks));
        var error = await SingleError(directory);
        Assert.StartsWith(At(directory, "auth.yaml", 2, 5, expected), error);
    }

    [Fact]
    public async Task Local_jwks_file_through_a_configmap_symlink_is_read()
    {
        using var directory = new TempConfigDirectory();
        var data = Path.Combine(directory.Path, "..2026_01_01");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "jwks.json"), "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"" + Convert.ToBase64String(new byte[32]).TrimEnd('=').Replace('+', '-').Replace('/', '_') + "\"}]}");
        File.CreateSymbolicLink(Path.Combine(directory.Path, "..data"), data);
        File.CreateSymbolicLink(Path.Combine(directory.Path, "jwks.json"), Path.Combine("..data", "jwks.json"));
        directory.Write("auth.yaml", Provider("{ file: jwks.json }"));
        Assert.Empty(await ErrorsOf(directory));
    }

    [Fact]
    public async Task Non_utf8_byte_is_refused_at_its_line_and_column()
    {
        using var directory = new TempConfigDirectory();
        File.WriteAllBytes(Path.Combine(directory.Path, "d.yaml"), [.. Encoding.UTF8.GetBytes("domain: d\ndescriptors:\n  - key: é"), 0xFF, .. Encoding.UTF8.GetBytes("\n")]);
        Assert.Equal(At(directory, "d.yaml", 3, 11, "invalid UTF-8 (byte 0xFF at offset 34); a config file is UTF-8"), await SingleError(directory));
    }

    [Fact]
    public async Task Nul_byte_is_refused_and_a_utf8_bom_is_accepted()
    {
        using var directory = new TempConfigDirectory();
        File.WriteAllBytes(Path.Combine(directory.Path, "a.yaml"), [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(Limit.Replace("domain: d", "domain: a", StringComparison.Ordinal))]);
        File.WriteAllBytes(Path.Combine(directory.Path, "b.yaml"), [.. Encoding.UTF8.GetBytes("domain: b\nx: a"), 0, .. Encoding.UTF8.GetBytes("\n")]);
        File.WriteAllBytes(Path.Combine(directory.Path, "c.yaml"), [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("domain: c\n")]);
        Assert.Equal(
            [
                At(directory, "b.yaml", 2, 5, "a NUL byte is not allowed in a config file"),
                At(directory, "c.yaml", 1, 1, "file is UTF-16 (it starts with a UTF-16 byte order mark); a config file is UTF-8"),
            ],
            await ErrorsOf(directory));
    }

    [Theory]
    [InlineData("path_regex: \"(?=a)a\"", 3, 26, "path_regex uses a construct that cannot be matched in linear time (lookarounds, backreferences, atomic groups, conditionals); rewrite it without them")]
    [InlineData("path_regex: \"(a)\\\\1\"", 3, 26, "path_regex uses a construct that cannot be matched in linear time (lookarounds, backreferences, atomic groups, conditionals); rewrite it without them")]
    [InlineData("path_regex: \"[a\"", 3, 26, "invalid path_regex at character 2: unterminated bracket")]
    public async Task Path_regex_the_engine_refuses_is_a_located_error(string match, int line, int column, string message)
    {
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", $"routes:\n  - requires: allow\n    match: {{ {match} }}\n");
        Assert.Equal(At(directory, "auth.yaml", line, column, message), await SingleError(directory));
    }

    [Theory]
    [InlineData("clock_skew: 999999999999999h", "'clock_skew' must be from 0s to 24h, not 999999999999999h")]
    [InlineData("clock_skew: 1" + "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000ms", "'clock_skew' must be from 0s to 24h, not 1000000000000000000000000000000000000000000000000000000000000000…(306 characters)")]
    [InlineData("clock_skew: NaNs", "'clock_skew' must be a duration such as 500ms, 60s, 10m or 24h")]
    [InlineData("max_lifetime: 0s", "'max_lifetime' must be from 1s to 87600h, not 0s")]
    [InlineData("max_token_size: 0", "'max_token_size' must be from 1 to 1048576 bytes")]
    public async Task Out_of_range_provider_values_are_located_errors(string setting, string message)
    {
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", $"providers:\n  - name: p\n    local_jwks: {{ inline: '{{\"keys\":[]}}' }}\n    {setting}\n");
        Assert.Contains(At(directory, "auth.yaml", 4, setting.IndexOf(':', StringComparison.Ordinal) + 7, message), await ErrorsOf(directory));
    }

    [Fact]
    public async Task Errors_are_bounded_and_values_in_messages_are_shortened()
    {
        using var directory = new TempConfigDirectory();
        var yaml = new StringBuilder("domain: d\ndescriptors:\n");
        for (var i = 0; i < 500; i++)
        {
            yaml.Append($"  - {{ key: k{i}, {new string('b', 1000)}{i}: 1 }}\n");
        }

        directory.Write("d.yaml", yaml.ToString());
        var errors = await ErrorsOf(directory);
        Assert.Equal(ConfigLimits.MaxErrors + 1, errors.Count);
        Assert.EndsWith("400 more errors not shown (at most 100 are reported)", errors[^1]);
        Assert.All(errors, e => Assert.True(e.Length < 500 + directory.Path.Length, e));
    }

    [Fact]
    public void Validate_warns_about_a_directory_without_config_files()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("README.md", "not config");
        var snapshot = ConfigLoader.LoadDirectory(directory.Path, out var warnings);
        Assert.Empty(snapshot.Files);
        Assert.Equal([ConfigLoader.EmptyDirectoryWarning], warnings);
    }
}
