using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Authorization.Config;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting;
using Sidecars.Tests.Authentication;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// Issue 7, finding 1: the last line of defence at the Check boundary. An exception from anywhere below (here a
/// broken policy, as a bug would leave it) is a 403 CheckResponse, never an RPC error, and is logged once per
/// cause, never per request and never with the token.
/// </summary>
public sealed class CheckBoundaryTests
{
    private sealed class RecordingLogger : ILogger<AuthorizationServiceAdapter>
    {
        public List<(LogLevel Level, string Text)> Entries { get; } = [];

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (Entries)
            {
                Entries.Add((logLevel, formatter(state, exception) + exception));
            }
        }
    }

    [Fact]
    public async Task An_exception_while_deciding_is_a_deny_logged_once_per_cause()
    {
        // A provider whose validator is missing: RequestTokens dereferences null, as any bug would throw.
        var policy = new AuthPolicy(
            new Dictionary<string, ProviderPolicy> { ["corp"] = new(null!, new KeySource(), false, null, []) },
            [new AuthRoute("all", new RouteMatch(pathPrefix: "/"), new ProviderRequirement("corp"))],
            DefaultAllow: true);
        var config = new ConfigState();
        config.Publish(new ConfigSnapshot(RateLimitConfig.Empty, [], "test", auth: policy));
        var clock = new FakeTimeProvider(TestTokens.Now);
        var logger = new RecordingLogger();
        var adapter = new AuthorizationServiceAdapter(config, new TokenCache(10, clock), clock, new AuthResponseOptions(), logger);
        var token = TestTokens.Rs256();

        for (var i = 0; i < 200; i++)
        {
            var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "api.example.com", Path = "/x" };
            http.Headers["authorization"] = "Bearer " + token;
            var response = await adapter.Check(new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } }, null!);

            Assert.Equal(7, response.Status.Code);
            Assert.Equal(global::Envoy.Type.V3.StatusCode.Forbidden, response.DeniedResponse.Status.Code);
            Assert.Equal("internal error while deciding", response.Status.Message);
        }

        var errors = logger.Entries.Where(e => e.Level == LogLevel.Error).ToList();
        Assert.Single(errors);
        Assert.Contains("NullReferenceException", errors[0].Text, StringComparison.Ordinal);
        Assert.DoesNotContain(token, errors[0].Text, StringComparison.Ordinal);

        // Later, at most once per interval, with how often it happened.
        clock.Advance(TimeSpan.FromMinutes(11));
        var again = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "api.example.com", Path = "/x" };
        again.Headers["authorization"] = "Bearer " + token;
        await adapter.Check(new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = again } } }, null!);
        Assert.Equal(2, logger.Entries.Count(e => e.Level == LogLevel.Error));
        Assert.Contains("201 times", logger.Entries.Last(e => e.Level == LogLevel.Error).Text, StringComparison.Ordinal);
    }
}
