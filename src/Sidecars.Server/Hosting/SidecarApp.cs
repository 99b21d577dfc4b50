using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sidecars.Config;
using Sidecars.Authentication;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.Health;
using Sidecars.Envoy.RateLimiting;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;
using Sidecars.Redis;
using Sidecars.Server.Config;
using Sidecars.Server.Http;
using Sidecars.Server.Wire;

namespace Sidecars.Server.Hosting;

/// <summary>Wires the server: Kestrel listeners, the engine and its store, the gRPC services and the status endpoints.</summary>
public static class SidecarApp
{
    /// <summary>Builds the application; <paramref name="overrides"/> (from the command line) win over appsettings and environment.</summary>
    public static WebApplication Build(IDictionary<string, string?> overrides, string[]? args = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });

        // Per-request framework logs would dominate a sidecar's output; Logging__LogLevel__... re-enables them.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);

        var section = builder.Configuration.GetSection(SidecarsOptions.Section);
        var settings = section.Get<SidecarsOptions>() ?? new SidecarsOptions();
        builder.Services.Configure<SidecarsOptions>(section);
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.ShutdownTimeout);

        var grpc = ListenAddress.Parse(settings.Grpc, "grpc");
        var http = string.IsNullOrEmpty(settings.Http) ? null : ListenAddress.Parse(settings.Http, "http");
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            Listen(kestrel, grpc, HttpProtocols.Http2);
            if (http is not null)
            {
                Listen(kestrel, http, HttpProtocols.Http1);
            }
        });

        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ConfigState>();
        builder.Services.AddSingleton<ConfigReloader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ConfigReloader>());
        builder.Services.AddSingleton(sp => new InMemoryBucketStore(
            sp.GetRequiredService<TimeProvider>(),
            new InMemoryStoreOptions { MaxKeys = settings.Memory.MaxKeys, SweepInterval = settings.Memory.SweepInterval }));
        if (string.IsNullOrEmpty(settings.Redis.Configuration))
        {
            builder.Services.AddSingleton<IBucketStore>(sp => sp.GetRequiredService<InMemoryBucketStore>());
        }
        else
        {
            // Connecting does not wait for Redis: until it answers, each domain's failure policy does.
            builder.Services.AddSingleton(sp => RedisBucketStore.ConnectAsync(
                settings.Redis, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<InMemoryBucketStore>()).GetAwaiter().GetResult());
            builder.Services.AddSingleton<IBucketStore>(sp => sp.GetRequiredService<RedisBucketStore>());
        }

        builder.Services.AddSingleton(sp => (IStoreStatusSource)sp.GetRequiredService<IBucketStore>());
        builder.Services.AddSingleton(new RateLimitEngineOptions
        {
            GlobalShadowMode = settings.ShadowMode,
            MaxDescriptors = settings.Requests.MaxDescriptors,
            MaxEntriesPerDescriptor = settings.Requests.MaxEntriesPerDescriptor,
            MaxEntryLength = settings.Requests.MaxEntryLength,
        });
        builder.Services.AddSingleton<RateLimitEngine>();
        builder.Services.AddSingleton(settings.Headers);
        builder.Services.AddSingleton<RateLimitServiceAdapter>();
        builder.Services.AddSingleton(sp => new TokenCache(settings.Auth.TokenCacheSize, sp.GetRequiredService<TimeProvider>()));
        builder.Services.AddSingleton(settings.Auth);
        builder.Services.AddSingleton(settings.Jwks);
        builder.Services.AddSingleton<JwksManager>();
        builder.Services.AddSingleton<IKeyReadiness>(sp => sp.GetRequiredService<JwksManager>());
        builder.Services.AddSingleton<AuthorizationServiceAdapter>();
        builder.Services.AddSingleton<ServingState>();
        builder.Services.AddSingleton<HealthService>();
        builder.Services.AddEnvoyGrpc(settings.Requests.MaxMessageBytes);

        var app = builder.Build();
        app.MapEnvoyGrpc();
        app.MapGrpcService<HealthService>();
        app.MapStatusEndpoints();

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sidecars");
        ServerLog.Starting(logger, settings.ToString());
        // Created before the first config is published, so it fetches that config's JWKS.
        app.Services.GetRequiredService<JwksManager>();
        app.Services.GetRequiredService<ConfigReloader>().LoadInitial();
        _ = app.Services.GetRequiredService<IBucketStore>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        lifetime.ApplicationStarted.Register(() =>
        {
            ServerLog.Listening(logger, "gRPC (HTTP/2 cleartext)", grpc.ToString());
            if (http is not null)
            {
                ServerLog.Listening(logger, "HTTP /healthz /readyz", http.ToString());
            }
        });
        lifetime.ApplicationStopping.Register(() =>
        {
            ServerLog.ShuttingDown(logger, settings.ShutdownTimeout);
            app.Services.GetRequiredService<ServingState>().BeginShutdown();
        });
        return app;
    }

    private static void Listen(KestrelServerOptions kestrel, ListenAddress address, HttpProtocols protocols)
    {
        if (address.UnixSocketPath is { } path)
        {
            // A socket file left by a previous run would make bind fail.
            if (File.Exists(path))
            {
                File.Delete(path);
            }

            kestrel.ListenUnixSocket(path, o => o.Protocols = protocols);
        }
        else
        {
            kestrel.Listen(address.Address!, address.Port, o => o.Protocols = protocols);
        }
    }
}
