using Microsoft.Extensions.Time.Testing;
using Sidecars.Config;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;

namespace Sidecars.Tests.Infrastructure;

/// <summary>The core engine on one YAML config, the in-memory store and a fake clock.</summary>
internal sealed class TestEngine : IDisposable
{
    public TestEngine(string yaml, RateLimitEngineOptions? options = null, InMemoryStoreOptions? storeOptions = null)
        : this([new ConfigSource("test.yaml", yaml)], options, storeOptions)
    {
    }

    public TestEngine(IReadOnlyList<ConfigSource> sources, RateLimitEngineOptions? options = null, InMemoryStoreOptions? storeOptions = null)
    {
        // A whole second, so fixed windows start at a known place.
        Time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        State = new ConfigState();
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile(sources, diagnostics);
        Assert.True(snapshot is not null, string.Join("\n", diagnostics.Errors));
        State.Publish(snapshot!);
        Store = new InMemoryBucketStore(Time, storeOptions);
        Engine = new RateLimitEngine(State, Store, options);
    }

    public FakeTimeProvider Time { get; }

    public ConfigState State { get; }

    public InMemoryBucketStore Store { get; }

    public RateLimitEngine Engine { get; }

    /// <summary>Decides one request; each descriptor is a list of key/value pairs.</summary>
    public Result Decide(string domain, params (string Key, string Value)[][] descriptors) =>
        Decide(domain, descriptors.Select(d => new Descriptor(d)).ToArray());

    public Result Decide(string domain, Descriptor[] descriptors, uint hitsAddend = 0)
    {
        var query = new RateLimitQuery { Domain = domain, HitsAddend = hitsAddend };
        foreach (var descriptor in descriptors)
        {
            query.BeginDescriptor(descriptor.Hits ?? -1, descriptor.Override is not null, descriptor.Override?.Rpu ?? 0, descriptor.Override?.Unit ?? RateLimitUnit.Unknown);
            foreach (var (key, value) in descriptor.Entries)
            {
                query.AddEntry(key, value);
            }
        }

        var task = Engine.DecideAsync(query);
        Assert.True(task.IsCompletedSuccessfully);
        return new Result(task.Result, query.Outcomes.ToArray());
    }

    public Result Hit(string domain, string key, string value) => Decide(domain, [(key, value)]);

    public void Dispose() => Store.Dispose();

    public sealed record Descriptor((string Key, string Value)[] Entries, long? Hits = null, (uint Rpu, RateLimitUnit Unit)? Override = null);

    public sealed record Result(RateLimitCode Code, DescriptorOutcome[] Outcomes)
    {
        public DescriptorOutcome Single => Assert.Single(Outcomes);

        public bool Allowed => Code == RateLimitCode.Ok;
    }
}
