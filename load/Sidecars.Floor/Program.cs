using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Sidecars.Floor;

// sidecars-floor --grpc HOST:PORT|unix:/x.sock --http HOST:PORT
// Kestrel and gRPC set up as src/Sidecars.Server's SidecarApp does with its default settings, so the only
// difference a load run sees is the decision itself.
string? grpc = null, http = null;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--grpc": grpc = args[i + 1]; break;
        case "--http": http = args[i + 1]; break;
        default: return Fail($"unknown option '{args[i]}'");
    }
}

if (grpc is null || http is null || args.Length % 2 != 0)
{
    return Fail("usage: sidecars-floor --grpc HOST:PORT|unix:/x.sock --http HOST:PORT");
}

var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
builder.Logging.ClearProviders();
builder.Logging.AddSimpleConsole(o => o.SingleLine = true);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
// As the sidecar's defaults (src/Sidecars.Server/Hosting/SidecarApp.cs): no Activity and log scope per request.
builder.Logging.AddFilter("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;

    // ConnectionSettings' defaults in src/Sidecars.Server/Hosting.
    var limits = kestrel.Limits;
    limits.MaxConcurrentConnections = 4096;
    limits.MaxConcurrentUpgradedConnections = 4096;
    limits.KeepAliveTimeout = TimeSpan.FromSeconds(60);
    limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
    limits.MaxRequestHeadersTotalSize = 32 * 1024;
    limits.MaxRequestHeaderCount = 100;
    limits.Http2.MaxStreamsPerConnection = 100;
    limits.Http2.KeepAlivePingDelay = TimeSpan.FromSeconds(30);
    limits.Http2.KeepAlivePingTimeout = TimeSpan.FromSeconds(20);
    Listen(kestrel, grpc, HttpProtocols.Http2);
    Listen(kestrel, http, HttpProtocols.Http1);
});

// The sidecar's Requests:MaxMessageBytes default.
builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 1024 * 1024);
builder.Services.AddSingleton<FloorCounters>();

var app = builder.Build();
app.MapGrpcService<FloorAuthorization>();
app.MapGrpcService<FloorRateLimit>();
app.MapGet("/healthz", () => Results.Text("ok\n"));
app.MapGet("/readyz", (FloorCounters counters) =>
    Results.Json(new ReadyStatus(true, "floor", counters.Read(), Runtime.Now()), FloorJsonContext.Default.ReadyStatus));
await app.RunAsync().ConfigureAwait(false);
return 0;

static int Fail(string message)
{
    Console.Error.WriteLine("sidecars-floor: " + message);
    return 2;
}

static void Listen(KestrelServerOptions kestrel, string address, HttpProtocols protocols)
{
    if (address.StartsWith("unix:", StringComparison.Ordinal))
    {
        var path = address["unix:".Length..];
        File.Delete(path);
        kestrel.ListenUnixSocket(path, o => o.Protocols = protocols);
        return;
    }

    var colon = address.LastIndexOf(':');
    if (colon < 1 || !int.TryParse(address.AsSpan(colon + 1), out var port) || !IPAddress.TryParse(address[..colon].Trim('[', ']'), out var ip))
    {
        throw new FormatException($"'{address}' is not HOST:PORT (an IP address) or unix:/path.sock");
    }

    kestrel.Listen(ip, port, o => o.Protocols = protocols);
}
