using Microsoft.Extensions.Time.Testing;
using Sidecars.Config;
using Sidecars.Server.Config;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>
/// What <c>/config</c> and <c>/readyz</c> report per file, on a test clock: a file's load time is when its active
/// version came in, kept across rejected edits and reloads that leave it alone; the config's <c>active_since</c> is
/// when the active generation was published.
/// </summary>
public sealed class FileStatusTrackerTests
{
    private const string A = "domain: a\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n";
    private const string B = "domain: b\ndescriptors:\n  - key: k\n    rate_limit: { unit: second, requests_per_unit: 1 }\n";

    private static ConfigSnapshot Compile(params (string Name, string Yaml)[] files) => TestConfig.State(files).Current;

    [Fact]
    public void Load_times_come_from_the_clock_and_move_only_with_a_files_new_version()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 12, 8, 10, 0, 0, TimeSpan.Zero));
        var state = new ConfigState();
        var tracker = new FileStatusTracker(state, clock);
        var loaded = clock.GetUtcNow();
        tracker.Update(state.Publish(Compile(("a.yaml", A), ("b.yaml", B))), []);
        Assert.Equal(loaded, state.ActiveSince);
        Assert.All(state.FileStatuses, f => Assert.Equal(loaded, f.LoadedAt));

        // A rejected edit of b: nothing published, b's active version and its time stay, the error shows.
        clock.Advance(TimeSpan.FromMinutes(5));
        tracker.Update(state.Current, [new ConfigError("b.yaml", 3, 5, "bad")]);
        Assert.Equal(loaded, state.ActiveSince);
        var b = state.FileStatuses.Single(f => f.File == "b.yaml");
        Assert.Equal(loaded, b.LoadedAt);
        Assert.Equal(1, b.Generation);
        Assert.NotNull(b.LastError);

        // b changes: a new generation at the new time; a, unchanged, keeps its generation and time.
        clock.Advance(TimeSpan.FromMinutes(5));
        var changed = clock.GetUtcNow();
        tracker.Update(state.Publish(Compile(("a.yaml", A), ("b.yaml", B.Replace("requests_per_unit: 1", "requests_per_unit: 2", StringComparison.Ordinal)))), []);
        Assert.Equal(changed, state.ActiveSince);
        Assert.Equal((1L, loaded), Version(state, "a.yaml"));
        Assert.Equal((2L, changed), Version(state, "b.yaml"));
    }

    private static (long, DateTimeOffset?) Version(ConfigState state, string file)
    {
        var status = state.FileStatuses.Single(f => f.File == file);
        return (status.Generation, status.LoadedAt);
    }
}
