using Sidecars.RateLimiting;
using Sidecars.Redis;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.RateLimiting;

namespace Sidecars.Tests.Redis;

/// <summary>A redis-server shared by the tests of one class.</summary>
public sealed class RedisFixture : IDisposable
{
    internal RedisServer Server { get; } = RedisServer.Start();

    public void Dispose() => Server.Dispose();
}

/// <summary>The shared behaviour suite against a real redis-server.</summary>
public sealed class RedisStoreBehaviourTests(RedisFixture redis) : StoreBehaviourTests, IClassFixture<RedisFixture>
{
    protected override async Task<IBucketStore> CreateStoreAsync() =>
        await RedisBucketStore.ConnectAsync(new RedisStoreOptions { Configuration = redis.Server.Configuration, OperationTimeout = TimeSpan.FromSeconds(2) }, TimeProvider.System);
}
