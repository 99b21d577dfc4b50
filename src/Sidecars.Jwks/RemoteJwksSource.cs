using Sidecars.Authentication;

namespace Sidecars.Jwks;

/// <summary>
/// Keeps a provider's keys current from a JWKS URI (or an OIDC discovery document naming one): one fetch in
/// flight at a time; a refresh ahead of the cache lifetime (the configured <c>cache_duration</c>, shortened by
/// <c>Cache-Control: max-age</c> but never below the minimum refresh interval) with jitter; on failure the last
/// good keys stay in use and a retry is scheduled; a token with an unknown <c>kid</c> asks for a refresh,
/// granted at most once per minimum interval. Every fetch outcome, whatever fails, is recorded (see
/// <see cref="Status"/>) and re-arms the schedule (issue 7, finding 9b: one malformed answer used to stop the
/// refresh for good, so a key removed from the JWKS kept validating tokens).
/// </summary>
public sealed class RemoteJwksSource : IKeyRefresher, IDisposable
{
    /// <summary>The schedule is clamped to this range: a revoked key never outlives a day, and no loop is tighter than a second.</summary>
    internal static readonly TimeSpan MinDelay = TimeSpan.FromSeconds(1);
    internal static readonly TimeSpan MaxDelay = TimeSpan.FromDays(1);

    private static readonly TimeSpan ReportInterval = TimeSpan.FromMinutes(1);

    private readonly Lock _sync = new();
    private readonly Uri _uri;
    private readonly bool _discovery;
    private TimeSpan _cacheDuration;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly JwksOptions _options;
    private readonly ITimer _timer;
    private JwtProvider _provider;
    private int _fetching;
    private long _lastRequested = long.MinValue;
    private Task _current = Task.CompletedTask;

    // Guarded by _sync: what /readyz shows and what the log was last told.
    private long _fetches;
    private long _failures;
    private int _consecutiveFailures;
    private DateTimeOffset? _lastSuccess;
    private DateTimeOffset? _lastAttempt;
    private string? _lastError;
    private IReadOnlyList<string> _keyErrors = [];
    private string? _reportedError;
    private string _reportedKeyErrors = string.Empty;
    private long _reportedAt;
    private int _suppressed;

    public RemoteJwksSource(JwtProvider provider, Uri uri, bool discovery, TimeSpan cacheDuration, HttpClient http, TimeProvider time, JwksOptions? options = null)
    {
        _provider = provider;
        _uri = uri;
        _discovery = discovery;
        _cacheDuration = cacheDuration;
        _http = http;
        _time = time;
        _options = options ?? new JwksOptions();
        _timer = time.CreateTimer(static s => ((RemoteJwksSource)s!).Refresh(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        provider.Refresher = this;
        provider.SetKeysUnavailable(null);
    }

    /// <summary>
    /// Raised after a fetch when the log should hear of it: a new error, the same error again after a minute
    /// (with how many were not reported), a recovery, or a change in the keys left out. Never per request.
    /// </summary>
    public event Action<JwksFetchReport>? Reported;

    public bool HasKeys => Volatile.Read(ref _provider).Keys.Count > 0;

    /// <summary>The URI without user info or query, for logs and /readyz.</summary>
    public string DisplayUri => JwksUriPolicy.Redact(_uri);

    /// <summary>
    /// Serves a provider of a newer config snapshot: it gets the current keys at once, and every later refresh.
    /// A new <paramref name="cacheDuration"/> applies from the next schedule (the keys come from the same place).
    /// </summary>
    public void Attach(JwtProvider provider, TimeSpan? cacheDuration = null)
    {
        lock (_sync)
        {
            if (cacheDuration is { } duration)
            {
                _cacheDuration = duration;
            }

            var previous = _provider;
            if (ReferenceEquals(previous, provider))
            {
                return;
            }

            // Under the lock a fetch cannot land on the old provider after the copy: it writes to _provider inside it too.
            provider.SetKeys(previous.Keys);
            provider.SetKeysUnavailable(_lastError);
            provider.Refresher = this;
            Volatile.Write(ref _provider, provider);
        }
    }

    /// <summary>Why the last fetch failed; null after a success.</summary>
    public string? LastError => Status().LastError;

    /// <summary>Fetches tried so far, failed ones included.</summary>
    public long Fetches => Status().Fetches;

    public JwksSourceStatus Status()
    {
        lock (_sync)
        {
            var keys = _provider.Keys.Count;
            return new JwksSourceStatus(_provider.Name, DisplayUri, keys > 0, keys, _lastError, _lastSuccess, _lastAttempt, _fetches, _failures, _keyErrors);
        }
    }

    /// <summary>The first fetch; readiness waits on it. Never throws: a failure is in <see cref="Status"/>.</summary>
    public Task StartAsync() => Refresh();

    public void RequestRefresh()
    {
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastRequested);
        if (last != long.MinValue && _time.GetElapsedTime(last, now) < _options.MinRefreshInterval)
        {
            return;
        }

        if (Interlocked.CompareExchange(ref _lastRequested, now, last) == last)
        {
            _ = Refresh();
        }
    }

    /// <summary>Starts a fetch unless one is in flight; returns the fetch in flight. The task never faults.</summary>
    public Task Refresh()
    {
        if (Interlocked.CompareExchange(ref _fetching, 1, 0) != 0)
        {
            return Volatile.Read(ref _current);
        }

        var fetch = FetchAsync();
        Volatile.Write(ref _current, fetch);
        return fetch;
    }

    private async Task FetchAsync()
    {
        var next = _options.RetryAfterFailure;
        JwksFetchReport? report = null;
        try
        {
            JwksFetcher.Outcome outcome;
            try
            {
                outcome = await JwksFetcher.FetchAsync(_http, _uri, _discovery, Volatile.Read(ref _provider).Options.Issuer, _options, _time).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Nothing a fetch meets may stop the schedule: an exception we did not foresee is one more failure.
                outcome = JwksFetcher.Outcome.Failed($"the fetch failed ({e.GetType().Name})");
            }

            if (outcome.Keys is not null)
            {
                next = NextAfterSuccess(outcome.MaxAge);
            }

            report = Record(outcome, next);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            report = null;
            lock (_sync)
            {
                _lastError = $"the fetch failed ({e.GetType().Name})";
            }
        }
        finally
        {
            Volatile.Write(ref _fetching, 0);
            Schedule(next);
        }

        if (report is { } r)
        {
            try
            {
                Reported?.Invoke(r);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A failing log sink must not stop key refreshes.
            }
        }
    }

    private JwksFetchReport? Record(JwksFetcher.Outcome outcome, TimeSpan next)
    {
        lock (_sync)
        {
            var now = _time.GetTimestamp();
            _fetches++;
            _lastAttempt = _time.GetUtcNow();
            var provider = _provider;
            if (outcome.Keys is { } keys)
            {
                provider.SetKeys(KeepUnchanged(provider.Keys, keys));
                provider.SetKeysUnavailable(null);
                var recoveredAfter = _consecutiveFailures;
                _consecutiveFailures = 0;
                _lastSuccess = _time.GetUtcNow();
                _lastError = null;
                _keyErrors = outcome.KeyErrors;
                _reportedError = null;
                _suppressed = 0;
                var keyErrors = string.Join("; ", outcome.KeyErrors);
                var keyErrorsChanged = keyErrors != _reportedKeyErrors;
                _reportedKeyErrors = keyErrors;
                return recoveredAfter > 0 || (keyErrorsChanged && keyErrors.Length > 0)
                    ? new JwksFetchReport(provider.Name, DisplayUri, null, keys.Count, recoveredAfter, 0, next, outcome.KeyErrors)
                    : null;
            }

            var error = outcome.Error ?? "the fetch failed";
            _failures++;
            _consecutiveFailures++;
            _lastError = error;
            _keyErrors = outcome.KeyErrors;
            provider.SetKeysUnavailable(error);

            // Rate-limited: a new error at once, the same one at most once a minute, with the count of the quiet ones.
            if (error == _reportedError && _time.GetElapsedTime(_reportedAt, now) < ReportInterval)
            {
                _suppressed++;
                return null;
            }

            var suppressed = _suppressed;
            _suppressed = 0;
            _reportedError = error;
            _reportedAt = now;
            return new JwksFetchReport(provider.Name, DisplayUri, error, provider.Keys.Count, _consecutiveFailures, suppressed, next, outcome.KeyErrors);
        }
    }

    private TimeSpan NextAfterSuccess(TimeSpan? maxAge)
    {
        // A max-age of 0 (or no-cache) would mean a fetch a second: the minimum refresh interval bounds it.
        TimeSpan cacheDuration;
        lock (_sync)
        {
            cacheDuration = _cacheDuration;
        }

        var lifetime = maxAge is { } age && age < cacheDuration ? (age < _options.MinRefreshInterval ? _options.MinRefreshInterval : age) : cacheDuration;
        var jitter = Math.Clamp(_options.Jitter, 0, 0.5) * Random.Shared.NextDouble();
        return lifetime > MaxDelay ? MaxDelay : lifetime * (1 - jitter);
    }

    private void Schedule(TimeSpan next)
    {
        var delay = next < MinDelay ? MinDelay : next > MaxDelay ? MaxDelay : next;
        try
        {
            _timer.Change(delay, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed (its provider left the config) while the fetch ran: nothing more to schedule.
        }
    }

    /// <summary>Keeps the existing instance of every unchanged key, so cached tokens verified by it stay valid.</summary>
    private static SigningKey[] KeepUnchanged(IReadOnlyList<SigningKey> current, IReadOnlyList<SigningKey> fetched)
    {
        var result = new SigningKey[fetched.Count];
        for (var i = 0; i < fetched.Count; i++)
        {
            result[i] = current.FirstOrDefault(k => k.SameAs(fetched[i])) ?? fetched[i];
        }

        return result;
    }

    public void Dispose() => _timer.Dispose();
}

/// <summary>One source's state, as /readyz shows it. <see cref="KeyErrors"/> are the keys the last document left out, and why.</summary>
public sealed record JwksSourceStatus(
    string Provider,
    string Uri,
    bool HasKeys,
    int Keys,
    string? LastError,
    DateTimeOffset? LastSuccess,
    DateTimeOffset? LastAttempt,
    long Fetches,
    long Failures,
    IReadOnlyList<string> KeyErrors);

/// <summary>
/// A fetch the log should hear of. <see cref="Error"/> null is a success: after <see cref="Failures"/> failures
/// (a recovery) or with a new list of <see cref="KeyErrors"/>. Never holds key material.
/// </summary>
public readonly record struct JwksFetchReport(
    string Provider,
    string Uri,
    string? Error,
    int Keys,
    int Failures,
    int Suppressed,
    TimeSpan Next,
    IReadOnlyList<string> KeyErrors);
