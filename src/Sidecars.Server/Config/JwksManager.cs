using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Config;
using Sidecars.Jwks;

namespace Sidecars.Server.Config;

/// <summary>
/// One JWKS source per remote provider, kept across reloads (same name, URI and, for discovery, issuer; a new
/// cache lifetime applies to the kept source, so changing it does not drop the keys). Before a snapshot is published its providers are attached to the existing sources and get their
/// keys at once (issue 7, finding 6: attaching after the swap left a window of "no key" denies); new sources
/// start fetching; after the swap, sources of providers that disappeared are stopped. Fetch failures are
/// logged as the sources report them (rate-limited there).
/// </summary>
public sealed class JwksManager : IKeyReadiness, IDisposable
{
    private static readonly TimeSpan DefaultCacheDuration = TimeSpan.FromMinutes(5);

    private readonly Dictionary<string, RemoteJwksSource> _sources = new(StringComparer.Ordinal);
    private readonly HttpClient _http = JwksHttp.CreateClient();
    private readonly TimeProvider _time;
    private readonly JwksOptions _options;
    private readonly ILogger _logger;
    private HashSet<string> _wanted = new(StringComparer.Ordinal);
    private HashSet<string> _needed = new(StringComparer.Ordinal);

    public JwksManager(ConfigState state, TimeProvider time, JwksOptions options, ILogger<JwksManager>? logger = null)
    {
        _time = time;
        _options = options;
        _logger = logger ?? (ILogger)NullLogger.Instance;
        state.Publishing += Prepare;
        state.Published += Retire;
    }

    /// <summary>Each remote provider's state, for readiness.</summary>
    public IReadOnlyList<JwksSourceStatus> Status()
    {
        lock (_sources)
        {
            return [.. _sources.Values.Select(s => s.Status())];
        }
    }

    /// <summary>Every remote provider that a route names has keys (a provider no route uses cannot change an answer).</summary>
    public bool AllHaveKeys()
    {
        lock (_sources)
        {
            return _sources.Values.All(s => s.HasKeys || !_needed.Contains(s.Status().Provider));
        }
    }

    public bool KeysReady => AllHaveKeys();

    private void Prepare(ConfigSnapshot snapshot)
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

                var discovery = policy.Keys.DiscoveryUri is not null;

                // A discovery source compares the document's issuer with the provider's: a new issuer is a new source.
                var key = $"{name}|{uri}|{discovery}|{(discovery ? policy.Provider.Options.Issuer : null)}";
                try
                {
                    if (_sources.TryGetValue(key, out var existing))
                    {
                        existing.Attach(policy.Provider, policy.Keys.CacheDuration ?? DefaultCacheDuration);
                    }
                    else
                    {
                        var source = new RemoteJwksSource(policy.Provider, new Uri(uri), discovery, policy.Keys.CacheDuration ?? DefaultCacheDuration, _http, _time, _options);
                        source.Reported += Log;
                        _sources[key] = source;
                        _ = source.StartAsync();
                    }

                    wanted.Add(key);
                }
                catch (Exception e) when (e is UriFormatException or ArgumentException or InvalidOperationException)
                {
                    // The provider keeps no keys and its requests are denied with the reason; the snapshot still publishes.
                    policy.Provider.SetKeysUnavailable($"its JWKS source could not be started ({e.GetType().Name})");
                    JwksLog.SourceFailed(_logger, name, e.GetType().Name);
                }
            }

            _wanted = wanted;
            _needed = NeededProviders(snapshot.Auth.Routes);
        }
    }

    private void Retire(ConfigSnapshot snapshot)
    {
        lock (_sources)
        {
            foreach (var stale in _sources.Keys.Where(k => !_wanted.Contains(k)).ToList())
            {
                _sources[stale].Reported -= Log;
                _sources[stale].Dispose();
                _sources.Remove(stale);
            }
        }
    }

    private void Log(JwksFetchReport report)
    {
        if (report.Error is { } error)
        {
            JwksLog.FetchFailed(_logger, report.Provider, report.Uri, error, report.Keys, report.Next, report.Suppressed);
            return;
        }

        if (report.Failures > 0)
        {
            JwksLog.FetchRecovered(_logger, report.Provider, report.Uri, report.Failures, report.Keys);
        }

        if (report.KeyErrors.Count > 0)
        {
            JwksLog.KeysLeftOut(_logger, report.Provider, report.Uri, report.KeyErrors.Count, string.Join("; ", report.KeyErrors));
        }
    }

    private static HashSet<string> NeededProviders(IReadOnlyList<AuthRoute> routes)
    {
        var needed = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in routes)
        {
            Collect(route.Requires, needed);
        }

        return needed;

        static void Collect(Requirement requirement, HashSet<string> into)
        {
            switch (requirement)
            {
                case ProviderRequirement provider:
                    into.Add(provider.Provider);
                    break;
                case AnyRequirement any:
                    foreach (var option in any.Options)
                    {
                        Collect(option, into);
                    }

                    break;
                case AllRequirement all:
                    foreach (var part in all.Parts)
                    {
                        Collect(part, into);
                    }

                    break;
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
