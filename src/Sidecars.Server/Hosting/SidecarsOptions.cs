using Sidecars.Envoy.RateLimiting;
using Sidecars.Redis;
using Sidecars.Envoy.Authorization;
using Sidecars.Jwks;

namespace Sidecars.Server.Hosting;

/// <summary>
/// Every setting of the server, bound from the <c>Sidecars</c> configuration section: appsettings.json,
/// environment variables (<c>SIDECARS__GRPC=...</c>) and the command line, the last one winning.
/// </summary>
public sealed class SidecarsOptions
{
    public const string Section = "Sidecars";

    /// <summary>Config directory; empty serves the example config embedded in the binary.</summary>
    public string? Config { get; set; }

    /// <summary><c>HOST:PORT</c> or <c>unix:/path.sock</c>. Default as envoyproxy/ratelimit's GRPC_PORT.</summary>
    public string Grpc { get; set; } = "127.0.0.1:8081";

    /// <summary><c>HOST:PORT</c> of /healthz and /readyz; empty disables it. Default as envoyproxy/ratelimit's PORT.</summary>
    public string Http { get; set; } = "127.0.0.1:8080";

    /// <summary>envoyproxy/ratelimit's SHADOW_MODE: every request is answered OK, limits are still counted and reported.</summary>
    public bool ShadowMode { get; set; }

    /// <summary>Safety-net rescan of the config directory, in case a file event was missed.</summary>
    public TimeSpan ReloadPollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long file events are gathered before one reload, so a multi-file update lands once.</summary>
    public TimeSpan ReloadDebounce { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Whether a reload may go from some config files to none. Off: an empty directory (a non-atomic
    /// <c>rm</c> then <c>cp</c>, a renamed file) is refused and the last good config keeps serving.
    /// </summary>
    public bool AllowEmptyConfig { get; set; }

    /// <summary>How long in-flight calls may finish after SIGTERM (after <see cref="ShutdownDelay"/>).</summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>
    /// After SIGTERM, how long readiness is false while every call is still answered, before the listeners close:
    /// time for Kubernetes to take the pod out of its endpoints and for the Envoy beside it to drain, so no request
    /// meets a closed socket (which Envoy's failure_mode decides). 0 closes at once.
    /// </summary>
    public TimeSpan ShutdownDelay { get; set; } = TimeSpan.Zero;

    public MemoryStoreSettings Memory { get; set; } = new();

    /// <summary>Shared buckets in Redis when <see cref="RedisStoreOptions.Configuration"/> is set (<c>--redis</c>); else in memory.</summary>
    public RedisStoreOptions Redis { get; set; } = new();

    public RequestLimitSettings Requests { get; set; } = new();

    public RateLimitHeadersOptions Headers { get; set; } = new();

    /// <summary>ext_authz answers: reason header, realm, token cache size.</summary>
    public AuthResponseOptions Auth { get; set; } = new();

    /// <summary>Remote JWKS fetching: timeout, size cap, refresh bounds.</summary>
    public JwksOptions Jwks { get; set; } = new();

    /// <summary>Readiness waits until every remote provider has fetched its keys once.</summary>
    public bool RequireKeysForReadiness { get; set; } = true;

    /// <summary>Bounds on client connections (Kestrel limits).</summary>
    public ConnectionSettings Connections { get; set; } = new();

    /// <summary>Octal mode of a Unix socket listener's file, set after bind; empty keeps what the umask gives.</summary>
    public string UnixSocketMode { get; set; } = "0660";

    /// <summary>Raise the soft open-files limit (RLIMIT_NOFILE) to the hard limit at start.</summary>
    public bool RaiseFileLimit { get; set; } = true;

    public override string ToString() =>
        $"config={(string.IsNullOrEmpty(Config) ? "<embedded example>" : Config)} grpc={Grpc} http={(string.IsNullOrEmpty(Http) ? "<off>" : Http)} " +
        $"shadow_mode={ShadowMode} store={StoreDescription()} " +
        $"requests(max_descriptors={Requests.MaxDescriptors}, max_entries={Requests.MaxEntriesPerDescriptor}, max_entry_length={Requests.MaxEntryLength}, max_message_bytes={Requests.MaxMessageBytes}) " +
        $"headers(legacy={Headers.Enabled}, draft={Headers.Draft}, backend={Headers.Backend}) reload(poll={ReloadPollInterval}, debounce={ReloadDebounce}) shutdown_delay={ShutdownDelay} shutdown_timeout={ShutdownTimeout} " +
        $"auth(expose_reason={Auth.ExposeReason}, reason_header={Auth.ReasonHeader}, realm={(Auth.Realm.Length == 0 ? "<none>" : Auth.Realm)}, token_cache={Auth.TokenCacheSize}) " +
        $"jwks(fetch_timeout={Jwks.FetchTimeout}, max_bytes={Jwks.MaxBytes}, min_refresh={Jwks.MinRefreshInterval}, retry={Jwks.RetryAfterFailure}, jitter={Jwks.Jitter}) " +
        $"require_keys_for_readiness={RequireKeysForReadiness} connections({Connections}) unix_socket_mode={(UnixSocketMode.Length == 0 ? "<umask>" : UnixSocketMode)} raise_file_limit={RaiseFileLimit}";

    private string StoreDescription() => string.IsNullOrEmpty(Redis.Configuration)
        ? $"memory(max_keys={Memory.MaxKeys}, sweep={Memory.SweepInterval})"
        : $"redis({RedactPasswords(Redis.Configuration)}, prefix={Redis.KeyPrefix}, timeout={Redis.OperationTimeout}, on_backend_error={Redis.OnBackendError}, " +
          $"fallback_replicas={Redis.FallbackReplicas}, circuit={Redis.CircuitFailureThreshold}x/{Redis.CircuitBreakDuration}, over_limit_cache={Redis.OverLimitCacheSize})";

    /// <summary>Secrets never reach the log: <c>password=</c> values are masked.</summary>
    private static string RedactPasswords(string configuration) =>
        string.Join(',', configuration.Split(',').Select(part =>
            part.TrimStart().StartsWith("password=", StringComparison.OrdinalIgnoreCase) ? "password=***" : part));
}

public sealed class MemoryStoreSettings
{
    public int MaxKeys { get; set; } = 1_000_000;

    public TimeSpan SweepInterval { get; set; } = TimeSpan.FromSeconds(10);
}

public sealed class RequestLimitSettings
{
    public int MaxDescriptors { get; set; } = 64;

    public int MaxEntriesPerDescriptor { get; set; } = 32;

    public int MaxEntryLength { get; set; } = 16 * 1024;

    /// <summary>Largest gRPC request accepted; gRPC answers RESOURCE_EXHAUSTED beyond it.</summary>
    public int MaxMessageBytes { get; set; } = 1024 * 1024;
}
