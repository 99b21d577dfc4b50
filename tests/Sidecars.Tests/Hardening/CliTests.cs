using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Hardening;

/// <summary>Issue 7, finding 18: help per command, --version, usage errors on stderr with exit 2, results on stdout.</summary>
public sealed class CliTests
{
    [Fact]
    public async Task Validate_without_a_directory_says_what_is_missing_and_exits_2()
    {
        var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(["validate"]);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal("sidecars: validate needs the config directory to check (see 'sidecars validate --help')", stderr.Trim());
    }

    [Theory]
    [InlineData("validate", "usage: sidecars validate DIR")]
    [InlineData("serve", "usage: sidecars serve [options]")]
    public async Task Help_of_a_command_is_its_help(string command, string usage)
    {
        foreach (string[] args in new[] { new[] { command, "--help" }, [command, "-h"], ["help", command] })
        {
            var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(args);
            Assert.Equal(0, exit);
            Assert.StartsWith(usage, stdout, StringComparison.Ordinal);
            Assert.Equal("", stderr);
        }
    }

    [Fact]
    public async Task Version_prints_the_version()
    {
        var (exit, stdout, _) = await SidecarsProcess.RunAsync(["--version"]);
        Assert.Equal(0, exit);
        Assert.Matches(@"^sidecars \d+\.\d+\.\d+", stdout);
    }

    [Fact]
    public async Task A_file_given_to_validate_is_not_a_directory()
    {
        using var directory = new TempConfigDirectory();
        var file = directory.Write("edge.yaml", "domain: d\n");
        var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(["validate", file]);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal($"sidecars: {file} is not a directory (validate checks a config directory) (see 'sidecars validate --help')", stderr.Trim());
    }

    [Theory]
    [InlineData(new[] { "serve", "--grcp", "127.0.0.1:1" }, "sidecars: unknown option '--grcp' (see 'sidecars serve --help')")]
    [InlineData(new[] { "serve", "--grpc" }, "sidecars: option '--grpc' needs a value (see 'sidecars serve --help')")]
    [InlineData(new[] { "serve", "extra" }, "sidecars: unexpected argument 'extra' (see 'sidecars serve --help')")]
    [InlineData(new[] { "validate", "a", "b" }, "sidecars: validate takes one directory, got 2 arguments (see 'sidecars validate --help')")]
    [InlineData(new[] { "frobnicate" }, "sidecars: unknown command 'frobnicate' (see 'sidecars --help')")]
    [InlineData(new[] { "--frob" }, "sidecars: unknown option '--frob' (see 'sidecars --help')")]
    public async Task Usage_errors_are_one_stderr_line_and_exit_2(string[] args, string message)
    {
        var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(args);
        Assert.Equal(2, exit);
        Assert.Equal("", stdout);
        Assert.Equal(message, stderr.Trim());
    }

    [Fact]
    public async Task Validate_prints_errors_on_stderr_and_the_summary_on_stdout()
    {
        using var directory = new TempConfigDirectory();
        directory.Write("bad.yaml", "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: eon }\n");
        var (exit, stdout, stderr) = await SidecarsProcess.RunAsync(["validate", directory.Path]);
        Assert.Equal(1, exit);
        Assert.Equal("", stdout);
        Assert.StartsWith(Path.Combine(directory.Path, "bad.yaml") + ":4:25: invalid rate limit unit 'eon'", stderr, StringComparison.Ordinal);

        directory.Write("bad.yaml", "domain: d\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n");
        (exit, stdout, stderr) = await SidecarsProcess.RunAsync(["validate", directory.Path]);
        Assert.Equal(0, exit);
        Assert.StartsWith($"{directory.Path}: valid (1 domains, 1 limits, 1 files)", stdout, StringComparison.Ordinal);
        Assert.Equal("", stderr);
    }

    [Fact]
    public async Task Serve_options_accept_the_equals_form()
    {
        var http = StartupFailureTests.Loopback();
        await using var server = SidecarsProcess.Start(["serve", "--grpc=" + StartupFailureTests.Loopback(), "--http=" + http, "--shadow-mode"]);
        Assert.True(await server.WaitForOutputAsync("listening for HTTP /healthz /readyz on " + http), server.Stdout + server.Stderr);
        Assert.Contains("shadow_mode=True", server.Stdout, StringComparison.Ordinal);
    }
}
