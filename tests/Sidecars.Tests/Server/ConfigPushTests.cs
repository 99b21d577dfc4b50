using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Hosting;
using Sidecars.Config;
using Sidecars.Tests.Config;
using Sidecars.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Sidecars.Tests.Server;

/// <summary>
/// The config-push suite (issue 7, findings 10, 11, 17, 20): every case of <see cref="ConfigPushCases"/> is pushed
/// as a reload to one running server. After each: the process is up, the error is located (<c>file:line:col</c>, one
/// line), a known request still gets the old answer; at the end a valid edit is applied. Bounded: each push waits at
/// most 10 s, and the whole table runs in seconds.
/// </summary>
public sealed partial class ConfigPushTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string?> FastReload = new()
    {
        ["Sidecars:ReloadDebounce"] = "00:00:00.005",
        ["Sidecars:ReloadPollInterval"] = "00:00:00.2",
    };

    [GeneratedRegex(@"^(?<file>/[^:]+):(?<line>\d+):(?<column>\d+): (?<message>[^\r\n]+)$")]
    private static partial Regex Located();

    private static CheckRequest Check(string path) => new()
    {
        Attributes = new AttributeContext
        {
            Request = new AttributeContext.Types.Request { Http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "h", Path = path } },
        },
    };

    private sealed class Running(SidecarServer server, TempConfigDirectory directory)
    {
        public SidecarServer Server { get; } = server;

        public TempConfigDirectory Directory { get; } = directory;

        public ConfigState State { get; } = (ConfigState)server.Services.GetService(typeof(ConfigState))!;

        public IHostApplicationLifetime Lifetime { get; } = (IHostApplicationLifetime)server.Services.GetService(typeof(IHostApplicationLifetime))!;

        public global::Envoy.Service.Ratelimit.V3.RateLimitService.RateLimitServiceClient Limits { get; } = server.RateLimitClient();

        public global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient Auth { get; } = new(server.Channel());

        public async Task<uint> CurrentLimit() =>
            (await Limits.ShouldRateLimitAsync(RateLimitServiceTests.Request("edge", [("user", Guid.NewGuid().ToString())]))).Statuses[0].CurrentLimit?.RequestsPerUnit ?? 0;

        public async Task<int> CheckCode(string path) => (await Auth.CheckAsync(Check(path))).Status.Code;

        /// <summary>Replaces a file at once (write beside, rename over), as a config push does.</summary>
        public void Push(string file, byte[] bytes)
        {
            var target = System.IO.Path.Combine(Directory.Path, file);
            var temp = System.IO.Path.Combine(Directory.Path, "." + file + ".tmp");
            File.WriteAllBytes(temp, bytes);
            File.Move(temp, target, overwrite: true);
        }

        public void PushSpecial(string file, string special)
        {
            // Made beside and renamed over, so the directory never lacks the file (that would be a valid, smaller config).
            var target = System.IO.Path.Combine(Directory.Path, "." + file + ".special");
            switch (special)
            {
                case "fifo":
                    ConfigBoundsTests.MakeFifo(target);
                    break;
                case "dangling":
                    File.CreateSymbolicLink(target, System.IO.Path.Combine(Directory.Path, "nothing-here"));
                    break;
                default:
                    File.CreateSymbolicLink(target, special);
                    break;
            }

            File.Move(target, System.IO.Path.Combine(Directory.Path, file), overwrite: true);
        }
    }

    private static async Task<Running> Start()
    {
        var directory = new TempConfigDirectory();
        directory.Write(ConfigPushCases.LimitsFile, ConfigPushCases.Limits(5));
        directory.Write(ConfigPushCases.AuthFile, ConfigPushCases.Auth());
        var server = await SidecarServer.StartAsync(directory.Path, settings: FastReload);
        return new Running(server, directory);
    }

    /// <summary>The old config still answers: limit 5, <c>/deny</c> denied (7), <c>/allow</c> allowed (0).</summary>
    private static async Task AssertOldConfigServes(Running running, string because)
    {
        Assert.False(running.Lifetime.ApplicationStopping.IsCancellationRequested, because + ": the host is stopping");
        Assert.True(await running.CurrentLimit() == 5, because + ": the rate limit changed");
        Assert.True(await running.CheckCode("/deny") == 7, because + ": /deny is no longer denied");
        Assert.True(await running.CheckCode("/allow") == 0, because + ": /allow is no longer allowed");
    }

    private static async Task<IReadOnlyList<ConfigError>> WaitForErrors(Running running, string because)
    {
        Assert.True(await Soon(() => running.State.LastErrors.Count > 0), because + ": no reload error was recorded");
        return running.State.LastErrors;
    }

    private static async Task WaitForRestored(Running running, string because)
    {
        if (await Soon(() => running.State.LastErrors.Count == 0))
        {
            return;
        }

        // Says which of the two it was: the directory still reads as invalid, or the reloader did not run.
        var diagnostics = new ConfigDiagnostics();
        var sources = ConfigLoader.ReadDirectory(running.Directory.Path, diagnostics);
        var compiled = diagnostics.HasErrors ? null : ConfigLoader.Compile(sources, diagnostics);
        var directory = compiled is null ? "invalid: " + string.Join(" | ", diagnostics.Errors) : "valid (fingerprint " + (compiled.Fingerprint == running.State.Current.Fingerprint ? "same as" : "differs from") + " the active one)";
        Assert.Fail($"{because}: restoring the good file did not clear the error within 10 s; still recorded: {string.Join(" | ", running.State.LastErrors)}; the directory now reads {directory}");
    }

    /// <summary>Polls the in-process state every 5 ms for at most 10 s: the table is long, so each wait must be short.</summary>
    private static async Task<bool> Soon(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (condition())
            {
                return true;
            }

            await Task.Delay(5);
        }

        return condition();
    }

    private void AssertLocated(IReadOnlyList<ConfigError> errors, Running running, ConfigPush push)
    {
        foreach (var error in errors)
        {
            var text = error.ToString();
            var match = Located().Match(text);
            Assert.True(match.Success, $"{push}: error not on one file:line:col line: {text}");
            Assert.True(text.Length < 2000, $"{push}: error of {text.Length} characters");
            Assert.StartsWith(running.Directory.Path, match.Groups["file"].Value);
        }

        var first = errors[0].ToString();
        output.WriteLine($"{push} -> {first}{(errors.Count > 1 ? $" (+{errors.Count - 1})" : string.Empty)}");
        if (push.Expected is { } expected)
        {
            Assert.True(errors.Any(e => e.Message.Contains(expected, StringComparison.Ordinal)), $"{push}: expected '{expected}' in: {string.Join(" | ", errors)}");
        }

        Assert.Contains(errors, e => e.File == Path.Combine(running.Directory.Path, push.File));
    }

    [Fact]
    public async Task Every_malformed_or_extreme_value_of_every_key_is_refused_located_and_the_old_config_keeps_serving()
    {
        var running = await Start();
        await using var server = running.Server;
        using var directory = running.Directory;
        await AssertOldConfigServes(running, "at start");
        var good = new Dictionary<string, byte[]>
        {
            [ConfigPushCases.LimitsFile] = System.Text.Encoding.UTF8.GetBytes(ConfigPushCases.Limits(5)),
            [ConfigPushCases.AuthFile] = System.Text.Encoding.UTF8.GetBytes(ConfigPushCases.Auth()),
        };

        var clock = Stopwatch.StartNew();
        var cases = ConfigPushCases.All().Append(ConfigPushCases.AliasBomb()).ToList();
        var failedBefore = running.State.FailedReloads;
        foreach (var push in cases)
        {
            var because = push.ToString();
            if (push.Special is { } special)
            {
                running.PushSpecial(push.File, special);
            }
            else
            {
                running.Push(push.File, push.Bytes!);
            }

            AssertLocated(await WaitForErrors(running, because), running, push);
            await AssertOldConfigServes(running, because);
            running.Push(push.File, good[push.File]);
            await WaitForRestored(running, because);
        }

        Assert.Equal(1, running.State.Current.Generation);
        Assert.True(running.State.FailedReloads - failedBefore >= cases.Count);

        // The process is still up and a valid edit of either file is applied.
        running.Push(ConfigPushCases.LimitsFile, System.Text.Encoding.UTF8.GetBytes(ConfigPushCases.Limits(9)));
        Assert.True(await Eventually.TrueAsync(async () => await running.CurrentLimit() == 9));
        running.Push(ConfigPushCases.AuthFile, System.Text.Encoding.UTF8.GetBytes(ConfigPushCases.Auth().Replace("requires: deny", "requires: allow", StringComparison.Ordinal)));
        Assert.True(await Eventually.TrueAsync(async () => await running.CheckCode("/deny") == 0));
        var ready = JsonDocument.Parse(await server.Http.GetStringAsync("/readyz")).RootElement;
        Assert.Equal(3, ready.GetProperty("generation").GetInt64());
        output.WriteLine($"{cases.Count} pushes in {clock.Elapsed.TotalSeconds:F1} s");
    }
}
