using System.Buffers.Text;
using System.Net;
using System.Text.Json;
using Envoy.Service.Auth.V3;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Server.Config;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, keys and JWKS, on the real server over loopback with a real HTTP JWKS endpoint: cached tokens
/// after a tightening reload (4), keys attached before a reload is visible (6), the fetch policy (7), the
/// refresh surviving a malformed answer (9b) and a missing key set made visible (16).
/// </summary>
public sealed class JwksServerHardeningTests
{
    internal static string Jwks(params string[] kids)
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        var keys = kids.Select(kid => $$"""{"kty":"RSA","kid":"{{kid}}","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}""");
        return "{\"keys\":[" + string.Join(',', keys) + "]}";
    }

    private static string Provider(string keys, string issuer = "https://idp.example.com/", string audience = "orders-api") => $$"""
        providers:
          - name: corp
            issuer: {{issuer}}
            audiences: [{{audience}}]
            {{keys}}
        routes:
          - name: api
            match: { path_prefix: /api }
            requires: { provider: corp }
        """;

    private static string Remote(Uri uri, string cache = "10m") => $"remote_jwks: {{ uri: {uri}, cache_duration: {cache} }}";

    internal static string Token(string kid = "rsa-1", string audience = "orders-api", string issuer = "https://idp.example.com/")
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return TestTokens.Rs256($$"""{"iss":"{{issuer}}","sub":"user-1","aud":"{{audience}}","iat":{{now - 10}},"exp":{{now + 600}}}""", kid);
    }

    internal static CheckRequest Check(string? token)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "api.example.com", Path = "/api/orders", Scheme = "https", Protocol = "HTTP/2" };
        if (token is not null)
        {
            http.Headers["authorization"] = "Bearer " + token;
        }

        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } };
    }

    private static async Task<SidecarServer> Start(TempConfigDirectory directory) =>
        await SidecarServer.StartAsync(directory.Path, settings: new Dictionary<string, string?>
        {
            ["Sidecars:Jwks:MinRefreshInterval"] = "00:00:01",
            ["Sidecars:Jwks:RetryAfterFailure"] = "00:00:01",
            // Reasons are shown here so the test can read them; the default may hide them from clients.
            ["Sidecars:Auth:ExposeReason"] = "true",
        });

    private static global::Envoy.Service.Auth.V3.Authorization.AuthorizationClient Client(SidecarServer server) => new(server.Channel());

    private static async Task<JsonElement> Ready(SidecarServer server)
    {
        // 503 while not ready: the body is the same status document.
        using var response = await server.Http.GetAsync("/readyz");
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    private static async Task<JsonElement> JwksStatus(SidecarServer server) => (await Ready(server)).GetProperty("jwks")[0];

    private static async Task<bool> IsReady(SidecarServer server) => (await server.Http.GetAsync("/readyz")).IsSuccessStatusCode;

    private static string? Reason(CheckResponse response) =>
        response.DeniedResponse?.Headers.FirstOrDefault(h => h.Header.Key == "x-ext-authz-reason")?.Header.Value;

    [Theory]
    [InlineData("audience")]
    [InlineData("issuer")]
    public async Task A_cached_token_is_denied_after_a_reload_that_tightens_its_provider(string change)
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(() => IsReady(server)));
        var client = Client(server);
        var token = Token();
        Assert.Equal(0, (await client.CheckAsync(Check(token))).Status.Code);
        Assert.Equal(0, (await client.CheckAsync(Check(token))).Status.Code);
        var cache = server.Services.GetRequiredService<TokenCache>();
        Assert.True(cache.Hits > 0, "the second check was served from the token cache");

        var state = server.Services.GetRequiredService<ConfigState>();
        var generation = state.Current.Generation;
        directory.Write("auth.yaml", change == "audience"
            ? Provider(Remote(jwks.JwksUri), audience: "billing-api")
            : Provider(Remote(jwks.JwksUri), issuer: "https://other.example.com/"));
        Assert.True(server.Services.GetRequiredService<ConfigReloader>().Reload() || state.Current.Generation > generation);

        var denied = await client.CheckAsync(Check(token));
        Assert.NotEqual(0, denied.Status.Code);
        Assert.Equal(change == "audience" ? "audience is not accepted" : "issuer is not accepted", Reason(denied));
    }

    [Fact]
    public async Task A_reload_that_keeps_the_provider_keeps_its_keys_and_cached_tokens_at_once()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(() => IsReady(server)));
        var client = Client(server);
        var token = Token();
        Assert.Equal(0, (await client.CheckAsync(Check(token))).Status.Code);
        var cache = server.Services.GetRequiredService<TokenCache>();
        var hits = cache.Hits;

        // An unrelated change: a new route. The provider's keys and its cached tokens carry over.
        var state = server.Services.GetRequiredService<ConfigState>();
        var generation = state.Current.Generation;
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)) + "\n  - match: { path: /open }\n    requires: allow\n");
        Assert.True(server.Services.GetRequiredService<ConfigReloader>().Reload() || state.Current.Generation > generation);
        Assert.True(state.Current.Auth.Validators["corp"].Keys.Count > 0);
        Assert.Equal(0, (await client.CheckAsync(Check(token))).Status.Code);
        Assert.Equal(hits + 1, cache.Hits);
        Assert.Equal(1, jwks.Requests);
    }

    [Fact]
    public async Task A_reload_that_changes_only_the_cache_duration_keeps_the_keys()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(() => IsReady(server)));
        var state = server.Services.GetRequiredService<ConfigState>();
        var generation = state.Current.Generation;
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri, cache: "20m")));
        Assert.True(server.Services.GetRequiredService<ConfigReloader>().Reload() || state.Current.Generation > generation);
        Assert.Equal(0, (await Client(server).CheckAsync(Check(Token()))).Status.Code);
        Assert.Equal(1, jwks.Requests);
    }

    [Fact]
    public async Task Keys_are_attached_before_a_reloaded_snapshot_is_published()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)));
        var state = new ConfigState();

        // Subscribed before the JWKS manager: this handler sees the snapshot the moment it is current.
        var keysWhenCurrent = new List<int>();
        state.Published += s => keysWhenCurrent.Add(state.Current.Auth.Validators["corp"].Keys.Count);
        using var manager = new JwksManager(state, TimeProvider.System, new Sidecars.Jwks.JwksOptions());
        state.Publish(Compile(directory));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(manager.AllHaveKeys())));

        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)) + "\n  - match: { path: /open }\n    requires: allow\n");
        state.Publish(Compile(directory));
        Assert.Equal(2, keysWhenCurrent.Count);
        Assert.Equal(1, keysWhenCurrent[1]);
    }

    [Fact]
    public async Task Requests_never_see_a_reloaded_provider_without_keys()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(() => IsReady(server)));
        var state = server.Services.GetRequiredService<ConfigState>();
        var reloader = server.Services.GetRequiredService<ConfigReloader>();

        // A reader takes the snapshot as a request does, while 20 reloads publish new providers.
        var stop = 0;
        var withoutKeys = 0;
        var reads = 0L;
        var reader = Task.Run(() =>
        {
            while (Volatile.Read(ref stop) == 0 && reads < 50_000_000)
            {
                reads++;
                if (state.Current.Auth.Validators["corp"].Keys.Count == 0)
                {
                    Interlocked.Increment(ref withoutKeys);
                }
            }
        });
        for (var i = 0; i < 20; i++)
        {
            directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)) + $"\n  - match: {{ path: /open-{i} }}\n    requires: allow\n");
            reloader.Reload();
        }

        Volatile.Write(ref stop, 1);
        await reader;
        Assert.True(state.Current.Generation >= 10);
        Assert.Equal(0, withoutKeys);
        Assert.Equal(1, jwks.Requests);
    }

    private static ConfigSnapshot Compile(TempConfigDirectory directory)
    {
        var diagnostics = new ConfigDiagnostics();
        var snapshot = ConfigLoader.Compile(ConfigLoader.ReadDirectory(directory.Path, diagnostics), diagnostics);
        Assert.False(diagnostics.HasErrors, string.Join('\n', diagnostics.Errors));
        return snapshot!;
    }

    [Fact]
    public async Task A_jwks_uri_that_redirects_is_a_fetch_failure()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.RedirectUri)));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(async () => (await JwksStatus(server)).GetProperty("fetches").GetInt64() > 0));
        var status = await JwksStatus(server);
        Assert.False(status.GetProperty("has_keys").GetBoolean());
        Assert.Contains("HTTP 302: redirects are not followed", status.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.False(await IsReady(server));
        Assert.Equal(0, jwks.Requests);
    }

    [Fact]
    public async Task Plain_http_to_a_host_that_is_not_loopback_is_refused()
    {
        // 0.0.0.0 means this machine to many stacks, but it is not a loopback address: plain HTTP to it is refused before any connection.
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(new Uri($"http://0.0.0.0:{jwks.Port}/jwks"))));
        // Refused when the config is loaded, at the uri's position; a discovery document's jwks_uri is checked
        // by the same policy when it is fetched (RemoteJwksHardeningTests).
        var error = await Assert.ThrowsAsync<Sidecars.Config.ConfigException>(async () => await (await Start(directory)).DisposeAsync());
        Assert.Contains("auth.yaml:", error.Message, StringComparison.Ordinal);
        Assert.Contains("remote_jwks 'uri': https is required (plain http only to a loopback host)", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, jwks.Requests);
    }

    [Fact]
    public async Task A_discovery_document_naming_another_issuer_is_refused()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        jwks.DiscoveryIssuer = "https://evil.example.com/";
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider($"discovery: {jwks.DiscoveryUri}"));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(async () => (await JwksStatus(server)).GetProperty("last_error").GetString() is not null));
        Assert.Contains("discovery document's issuer 'https://evil.example.com/' is not the provider's issuer 'https://idp.example.com/'",
            (await JwksStatus(server)).GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, jwks.Requests);

        jwks.DiscoveryIssuer = "https://idp.example.com/";
        Assert.True(await Eventually.TrueAsync(() => IsReady(server)));
        Assert.Equal(0, (await Client(server).CheckAsync(Check(Token()))).Status.Code);
    }

    [Fact]
    public async Task A_malformed_jwks_answer_does_not_stop_the_refresh_and_a_removed_key_is_refused()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Body = Jwks("rsa-1");
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri, cache: "1s")));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(() => IsReady(server)));
        var client = Client(server);
        Assert.Equal(0, (await client.CheckAsync(Check(Token("rsa-1")))).Status.Code);

        // One malformed answer: recorded, the old keys stay, the schedule goes on.
        jwks.Body = """{"keys":[1]}""";
        Assert.True(await Eventually.TrueAsync(async () => (await JwksStatus(server)).GetProperty("last_error").GetString() is not null));
        var failed = await JwksStatus(server);
        Assert.Contains("key 1: not a JSON object", failed.GetProperty("last_error").GetString(), StringComparison.Ordinal);
        Assert.True(failed.GetProperty("failures").GetInt64() >= 1);

        // The issuer removes rsa-1: its tokens, cached ones too, are refused once the next scheduled refresh lands.
        jwks.Body = Jwks("rsa-2");
        Assert.True(await Eventually.TrueAsync(async () => (await client.CheckAsync(Check(Token("rsa-1")))).Status.Code != 0));
        Assert.Equal(0, (await client.CheckAsync(Check(Token("rsa-2")))).Status.Code);
        Assert.True((await JwksStatus(server)).GetProperty("last_error").ValueKind == JsonValueKind.Null);
    }

    [Fact]
    public async Task Without_keys_the_auth_service_is_not_serving_and_the_reason_says_why()
    {
        await using var jwks = await JwksServer.StartAsync();
        jwks.Status = 503;
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", Provider(Remote(jwks.JwksUri)));
        await using var server = await Start(directory);
        Assert.True(await Eventually.TrueAsync(async () => (await JwksStatus(server)).GetProperty("last_error").GetString() is not null));
        var health = new Health.HealthClient(server.Channel());

        Assert.Equal(ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest { Service = "envoy.service.auth.v3.Authorization" })).Status);
        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "" })).Status);
        Assert.Equal(ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "envoy.service.ratelimit.v3.RateLimitService" })).Status);
        var denied = await Client(server).CheckAsync(Check(Token()));
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, denied.DeniedResponse.Status.Code);
        Assert.Equal("keys for provider 'corp' not available yet: HTTP 503", Reason(denied));

        jwks.Status = 200;
        jwks.Body = Jwks("rsa-1");
        Assert.True(await Eventually.TrueAsync(async () =>
            (await health.CheckAsync(new HealthCheckRequest { Service = "envoy.service.auth.v3.Authorization" })).Status == ServingStatus.Serving));
        Assert.Equal(0, (await Client(server).CheckAsync(Check(Token()))).Status.Code);
        Assert.Equal(HttpStatusCode.OK, (await server.Http.GetAsync("/readyz")).StatusCode);
    }
}
