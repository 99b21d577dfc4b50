using Sidecars.Authorization.Config;
using Sidecars.Config;
using Sidecars.Jwks;

namespace Sidecars.Server.Config;

/// <summary>
/// One JWKS source per remote provider, kept across reloads (same name, URI and cache lifetime): a new
/// snapshot's provider is attached to the existing source and gets its keys at once; sources of providers
/// that disappeared are stopped.
/// </summary>
public sealed class JwksManager : IDisposable
{
    private readonly Dictionary<string, RemoteJwksSource> _sources = new(StringComparer.Ordinal);
    private readonly HttpClient _http = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5) });
    private readonly TimeProvider _time;
    private readonly JwksOptions _options;

    public JwksManager(ConfigState state, TimeProvider time, JwksOptions options)
    {
        _time = time;
        _options = options;
        state.Published += Apply;
    }

    /// <summary>Each remote provider's state, for readiness.</summary>
    public IReadOnlyList<(string Provider, bool HasKeys, string? LastError, long Fetches)> Status()
    {
        lock (_sources)
        {
            return [.. _sources.Select(s => (s.Key[..s.Key.IndexOf('|', StringComparison.Ordinal)], s.Value.HasKeys, s.Value.LastError, s.Value.Fetches))];
        }
    }

    public bool AllHaveKeys()
    {
        lock (_sources)
        {
            return _sources.Values.All(s => s.HasKeys);
        }
    }

    private void Apply(ConfigSnapshot snapshot)
    {
        lock (_sources)
        {
            var wanted = new HashSet<string>(StringComparer.Ordinal);
            foreach (var (name, policy) in snapshot.Auth.Providers)
            {
                var uri = policy.Keys.RemoteUri ?? policy.Keys.DiscoveryUri;
                if (uri is null)
                {
                    continue;
                }

                var key = $"{name}|{uri}|{policy.Keys.DiscoveryUri is not null}|{policy.Keys.CacheDuration}";
                wanted.Add(key);
                if (_sources.TryGetValue(key, out var existing))
                {
                    existing.Attach(policy.Provider);
                    continue;
                }

                var source = new RemoteJwksSource(policy.Provider, new Uri(uri), policy.Keys.DiscoveryUri is not null, policy.Keys.CacheDuration ?? TimeSpan.FromMinutes(5), _http, _time, _options);
                _sources[key] = source;
                _ = source.StartAsync();
            }

            foreach (var stale in _sources.Keys.Where(k => !wanted.Contains(k)).ToList())
            {
                _sources[stale].Dispose();
                _sources.Remove(stale);
            }
        }
    }

    public void Dispose()
    {
        lock (_sources)
        {
            foreach (var source in _sources.Values)
            {
                source.Dispose();
            }

            _sources.Clear();
        }

        _http.Dispose();
    }
}
