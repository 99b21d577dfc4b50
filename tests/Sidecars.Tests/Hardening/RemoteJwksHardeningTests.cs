using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Jwks;
using Sidecars.Server.Config;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Hardening;

/// <summary>Issue 7 findings 7, 9b and 16 at the JWKS source, against a real HTTP endpoint and a fake clock.</summary>
public sealed class RemoteJwksHardeningTests
{
    private static readonly HttpClient Following = new();

    private static JwtProvider Provider(string? issuer = "https://idp.example.com/") => new("corp", new JwtValidationOptions { Issuer = issuer });

    private static bool Validates(JwtProvider provider, string kid) =>
        JwtValidator.TryValidate(TestTokens.Rs256(kid: kid), provider.Keys, provider.Options, TestTokens.Now, out _, out _);

    [Fact]
    public async Task Every_fetch_outcome_rearms_the_schedule_even_a_malformed_document()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = JwksServerHardeningTests.Jwks("rsa-1");
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var provider = Provider();
        var options = new JwksOptions { Jitter = 0, RetryAfterFailure = TimeSpan.FromSeconds(10) };
        using var source = new RemoteJwksSource(provider, server.JwksUri, discovery: false, TimeSpan.FromMinutes(1), JwksHttp.CreateClient(), clock, options);
        await source.StartAsync();
        Assert.True(Validates(provider, "rsa-1"));

        foreach (var hostile in (string[])["""{"keys":[1]}""", """{"keys":[{"kty":"RSA","kid":"\ud800"}]}""", """{"keys":[{"kty":"RSA","kid":"k","n":"AQAB","e":""}]}"""])
        {
            server.Body = hostile;
            var before = server.Requests;
            clock.Advance(TimeSpan.FromSeconds(61));
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(server.Requests == before + 1 && source.Status().LastError is not null)), hostile);
            Assert.Contains("no usable signing key: key 1", source.Status().LastError, StringComparison.Ordinal);
            Assert.True(Validates(provider, "rsa-1"), "stale keys beat no keys");

            // Back to good: the retry comes after RetryAfterFailure, not never.
            server.Body = JwksServerHardeningTests.Jwks("rsa-1");
            clock.Advance(TimeSpan.FromSeconds(11));
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(server.Requests == before + 2 && source.Status().LastError is null)), hostile);
        }

        // The issuer removes rsa-1: the next scheduled refresh revokes it.
        server.Body = JwksServerHardeningTests.Jwks("rsa-2");
        clock.Advance(TimeSpan.FromSeconds(61));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(Validates(provider, "rsa-2"))));
        Assert.False(Validates(provider, "rsa-1"));
        var status = source.Status();
        Assert.Equal(3, status.Failures);
        Assert.Equal(8, status.Fetches);
    }

    [Fact]
    public async Task A_redirect_is_refused_even_by_a_client_that_would_follow_it()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = JwksServerHardeningTests.Jwks("rsa-1");
        foreach (var http in (HttpClient[])[JwksHttp.CreateClient(), Following])
        {
            var provider = Provider();
            using var source = new RemoteJwksSource(provider, server.RedirectUri, discovery: false, TimeSpan.FromMinutes(10), http, TimeProvider.System);
            await source.StartAsync();
            Assert.Empty(provider.Keys);
            Assert.Contains("redirects are not followed", source.Status().LastError, StringComparison.Ordinal);

            // Our client never reaches the target; one that follows by itself does, but its answer is refused.
            Assert.Equal(ReferenceEquals(http, Following) ? 1 : 0, server.Requests);
        }
    }

    [Fact]
    public async Task Plain_http_goes_only_to_loopback_even_when_the_name_would_reach_it()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = JwksServerHardeningTests.Jwks("rsa-1");

        // A client that connects every name to the loopback JWKS server: only the policy can stop the fetch.
        using var anywhere = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, server.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        });
        var provider = Provider();
        using var source = new RemoteJwksSource(provider, new Uri($"http://idp.example.com:{server.Port}/jwks"), discovery: false, TimeSpan.FromMinutes(10), anywhere, TimeProvider.System);
        await source.StartAsync();
        Assert.Empty(provider.Keys);
        Assert.Equal("http://idp.example.com:" + server.Port + "/jwks: https is required (plain http only to a loopback host)", source.Status().LastError);
        Assert.Equal(0, server.Requests);

        using var loopback = new RemoteJwksSource(Provider(), new Uri($"http://localhost:{server.Port}/jwks"), discovery: false, TimeSpan.FromMinutes(10), anywhere, TimeProvider.System);
        await loopback.StartAsync();
        Assert.Null(loopback.Status().LastError);
    }

    [Theory]
    [InlineData("https://idp.example.com/jwks", null)]
    [InlineData("http://127.0.0.1:8080/jwks", null)]
    [InlineData("http://127.9.8.7/jwks", null)]
    [InlineData("http://[::1]:80/jwks", null)]
    [InlineData("http://LOCALHOST/jwks", null)]
    [InlineData("http://idp.example.com/jwks", "https is required (plain http only to a loopback host)")]
    [InlineData("http://0.0.0.0/jwks", "https is required (plain http only to a loopback host)")]
    [InlineData("http://127.0.0.1.nip.io/jwks", "https is required (plain http only to a loopback host)")]
    [InlineData("http://10.0.0.1/jwks", "https is required (plain http only to a loopback host)")]
    [InlineData("ftp://idp.example.com/jwks", "the URI must be https")]
    [InlineData("https://user:secret@idp.example.com/jwks", "the URI must not carry user info")]
    [InlineData("/relative", "not an absolute URI")]
    public void The_uri_policy_allows_https_and_loopback_http_only(string uri, string? error) =>
        Assert.Equal(error, JwksUriPolicy.Check(uri));

    [Fact]
    public async Task A_discovery_document_without_a_configured_issuer_must_match_its_own_address()
    {
        await using var server = await JwksServer.StartAsync();
        server.Body = JwksServerHardeningTests.Jwks("rsa-1");
        var provider = Provider(issuer: null);
        using var source = new RemoteJwksSource(provider, server.DiscoveryUri, discovery: true, TimeSpan.FromMinutes(10), JwksHttp.CreateClient(), TimeProvider.System);
        await source.StartAsync();
        Assert.Empty(provider.Keys);
        Assert.Contains($"is not the issuer its address names 'http://127.0.0.1:{server.Port}'", source.Status().LastError, StringComparison.Ordinal);

        server.DiscoveryIssuer = $"http://127.0.0.1:{server.Port}";
        await source.Refresh();
        Assert.Null(source.Status().LastError);
        Assert.Single(provider.Keys);
    }

    [Fact]
    public async Task Fetch_failures_are_logged_at_most_once_a_minute_and_the_recovery_once()
    {
        await using var server = await JwksServer.StartAsync();
        server.Status = 503;
        using var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", $$"""
            providers:
              - name: corp
                issuer: https://idp.example.com/
                remote_jwks: { uri: {{server.JwksUri}}, cache_duration: 10m }
            routes:
              - match: { path_prefix: / }
                requires: { provider: corp }
            """);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var logger = new ListLogger();
        var state = new ConfigState();
        using var manager = new JwksManager(state, clock, new JwksOptions { RetryAfterFailure = TimeSpan.FromSeconds(10) }, logger);
        var diagnostics = new ConfigDiagnostics();
        state.Publish(ConfigLoader.Compile(ConfigLoader.ReadDirectory(directory.Path, diagnostics), diagnostics)!);
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(server.Requests == 1 && logger.Lines.Count == 1)));

        // Five more failures within the minute: no more lines. The seventh, past the minute: one line, counting the quiet ones.
        for (var i = 2; i <= 7; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(11));
            Assert.True(await Eventually.TrueAsync(() => Task.FromResult(server.Requests == i && manager.Status()[0].Failures == i)));
        }

        Assert.Equal(2, logger.Lines.Count);
        Assert.Contains("5 more failures", logger.Lines[1], StringComparison.Ordinal);
        Assert.All(logger.Lines, l => Assert.StartsWith("Warning: JWKS of provider 'corp'", l, StringComparison.Ordinal));

        server.Status = 200;
        server.Body = JwksServerHardeningTests.Jwks("rsa-1");
        clock.Advance(TimeSpan.FromSeconds(11));
        Assert.True(await Eventually.TrueAsync(() => Task.FromResult(logger.Lines.Count == 3)));
        Assert.StartsWith("Information: JWKS of provider 'corp'", logger.Lines[2], StringComparison.Ordinal);
        Assert.Contains("after 7 failures", logger.Lines[2], StringComparison.Ordinal);
        var modulus = System.Buffers.Text.Base64Url.EncodeToString(TestTokens.Rsa.ExportParameters(false).Modulus);
        Assert.DoesNotContain(logger.Lines, l => l.Contains(modulus[..16], StringComparison.Ordinal));
    }

    /// <summary>A real logger that keeps its lines, to count them.</summary>
    private sealed class ListLogger : ILogger<JwksManager>
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines
        {
            get
            {
                lock (_lines)
                {
                    return [.. _lines];
                }
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add($"{logLevel}: {formatter(state, exception)}");
            }
        }
    }
}
