using System.Net.Http.Headers;
using System.Text.Json;
using Sidecars.Authentication;

namespace Sidecars.Jwks;

/// <summary>
/// Keeps a provider's keys current from a JWKS URI (or an OIDC discovery document naming one): one fetch in
/// flight at a time; a refresh ahead of the cache lifetime (the configured <c>cache_duration</c>, shortened by
/// <c>Cache-Control: max-age</c>) with jitter; on failure the last good keys stay in use and a retry is
/// scheduled; a token with an unknown <c>kid</c> asks for a refresh, granted at most once per minimum interval.
/// </summary>
public sealed class RemoteJwksSource : IKeyRefresher, IDisposable
{
    private JwtProvider _provider;
    private readonly Uri _uri;
    private readonly bool _discovery;
    private readonly TimeSpan _cacheDuration;
    private readonly HttpClient _http;
    private readonly TimeProvider _time;
    private readonly JwksOptions _options;
    private readonly ITimer _timer;
    private int _fetching;
    private long _lastRequested = long.MinValue;
    private long _fetches;
    private DateTimeOffset? _lastSuccess;
    private string? _lastError;
    private Task _current = Task.CompletedTask;

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
    }

    public bool HasKeys => Volatile.Read(ref _provider).Keys.Count > 0;

    /// <summary>Serves a provider of a newer config snapshot: it gets the current keys at once, and every later refresh.</summary>
    public void Attach(JwtProvider provider)
    {
        var previous = Volatile.Read(ref _provider);
        if (ReferenceEquals(previous, provider))
        {
            return;
        }

        provider.SetKeys(previous.Keys);
        provider.Refresher = this;
        Volatile.Write(ref _provider, provider);
    }

    public DateTimeOffset? LastSuccess => _lastSuccess;

    public string? LastError => Volatile.Read(ref _lastError);

    /// <summary>HTTP fetches of the key set made so far.</summary>
    public long Fetches => Interlocked.Read(ref _fetches);

    /// <summary>The first fetch; readiness waits on it. Never throws: a failure is in <see cref="LastError"/>.</summary>
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

    /// <summary>Starts a fetch unless one is in flight; returns the fetch in flight.</summary>
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
        TimeSpan next;
        try
        {
            var jwksUri = _discovery ? await DiscoverAsync().ConfigureAwait(false) : _uri;
            var (body, maxAge) = await GetAsync(jwksUri).ConfigureAwait(false);
            Interlocked.Increment(ref _fetches);
            var keys = JwksParser.Parse(body, out _);
            if (keys.Count == 0)
            {
                throw new FormatException("the key set holds no usable signing key");
            }

            var provider = Volatile.Read(ref _provider);
            provider.SetKeys(KeepUnchanged(provider.Keys, keys));
            _lastSuccess = _time.GetUtcNow();
            Volatile.Write(ref _lastError, null);
            var lifetime = maxAge is { } age && age < _cacheDuration ? age : _cacheDuration;
            next = lifetime * (1 - (_options.Jitter * Random.Shared.NextDouble()));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or TimeoutException or JsonException or FormatException or InvalidDataException or ArgumentException or System.Security.Cryptography.CryptographicException)
        {
            // Stale keys beat no keys: the current set stays until a fetch succeeds.
            Volatile.Write(ref _lastError, $"{_uri}: {e.Message}");
            next = _options.RetryAfterFailure;
        }
        finally
        {
            Volatile.Write(ref _fetching, 0);
        }

        _timer.Change(next < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : next, Timeout.InfiniteTimeSpan);
    }

    private async Task<Uri> DiscoverAsync()
    {
        var (body, _) = await GetAsync(_uri).ConfigureAwait(false);
        using var document = JsonDocument.Parse(body);
        if (!document.RootElement.TryGetProperty("jwks_uri", out var jwks) || jwks.ValueKind != JsonValueKind.String ||
            !Uri.TryCreate(jwks.GetString(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new FormatException("the discovery document has no http(s) jwks_uri");
        }

        return uri;
    }

    private async Task<(byte[] Body, TimeSpan? MaxAge)> GetAsync(Uri uri)
    {
        using var timeout = new CancellationTokenSource(_options.FetchTimeout, _time);
        try
        {
            using var response = await _http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} from {uri}");
            }

            if (response.Content.Headers.ContentLength > _options.MaxBytes)
            {
                throw new InvalidDataException($"document larger than {_options.MaxBytes} bytes");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > _options.MaxBytes)
                {
                    throw new InvalidDataException($"document larger than {_options.MaxBytes} bytes");
                }

                buffer.Write(chunk, 0, read);
            }

            return (buffer.ToArray(), MaxAge(response.Headers.CacheControl));
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"no answer from {uri} within {_options.FetchTimeout}");
        }
    }

    private static TimeSpan? MaxAge(CacheControlHeaderValue? cacheControl) =>
        cacheControl is { NoStore: false, NoCache: false, MaxAge: { } age } ? age : null;

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
