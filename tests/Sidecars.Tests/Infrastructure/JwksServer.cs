using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Sidecars.Tests.Infrastructure;

/// <summary>
/// A real HTTP JWKS endpoint (and OIDC discovery document) on loopback, whose answers a test changes:
/// the key set, a status code, a delay, a Cache-Control max-age. It counts the key set requests.
/// </summary>
internal sealed class JwksServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _requests;

    private JwksServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public Uri JwksUri => new($"http://127.0.0.1:{Port}/jwks");

    public Uri DiscoveryUri => new($"http://127.0.0.1:{Port}/.well-known/openid-configuration");

    public string Body { get; set; } = """{"keys":[]}""";

    public int Status { get; set; } = 200;

    public TimeSpan Delay { get; set; }

    public int? MaxAgeSeconds { get; set; }

    public int Requests => Volatile.Read(ref _requests);

    /// <summary>The <c>issuer</c> the discovery document names.</summary>
    public string DiscoveryIssuer { get; set; } = "https://idp.example.com/";

    /// <summary>A URI that answers 302 to <see cref="JwksUri"/>: redirects must not be followed.</summary>
    public Uri RedirectUri => new($"http://127.0.0.1:{Port}/redirect");

    public static async Task<JwksServer> StartAsync()
    {
        var port = FreePort.Next();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls($"http://127.0.0.1:{port}");
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        var app = builder.Build();
        var server = new JwksServer(app, port);
        app.MapGet("/jwks", async (HttpContext context) =>
        {
            Interlocked.Increment(ref server._requests);
            if (server.Delay > TimeSpan.Zero)
            {
                await Task.Delay(server.Delay, context.RequestAborted);
            }

            context.Response.StatusCode = server.Status;
            if (server.MaxAgeSeconds is { } age)
            {
                context.Response.Headers.CacheControl = $"public, max-age={age}";
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(server.Body, context.RequestAborted);
        });
        app.MapGet("/.well-known/openid-configuration", () =>
            Results.Text($$"""{"issuer":"{{server.DiscoveryIssuer}}","jwks_uri":"http://127.0.0.1:{{port}}/jwks"}""", "application/json"));
        app.MapGet("/redirect", () => Results.Redirect($"http://127.0.0.1:{port}/jwks"));
        await app.StartAsync();
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
