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

/// <summary>
/// The shared behaviour suite against a real redis-server. It tests bucket arithmetic, so no answer may come from the
/// failure policy: the operation timeout is long enough that a busy test machine (a reply's continuation or the
/// timeout timer waiting for a pool thread) cannot expire a call that Redis answered. With a 2 s timeout it once
/// did, and the policy's "allow, 5 remaining" read as a bucket that did not count. Timeouts have their own tests.
/// </summary>
public sealed class RedisStoreBehaviourTests(RedisFixture redis) : StoreBehaviourTests, IClassFixture<RedisFixture>
{
    protected override async Task<IBucketStore> CreateStoreAsync() =>
        await RedisBucketStore.ConnectAsync(new RedisStoreOptions { Configuration = redis.Server.Configuration, OperationTimeout = TimeSpan.FromSeconds(30) }, TimeProvider.System);
}
