using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
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
    /// <exception cref="StartupException">A setting has a bad value; the message is the one line to print.</exception>
    public static WebApplication Build(IDictionary<string, string?> overrides, string[]? args = null) => Build(overrides, args, configureLogging: null);

    /// <summary>As <see cref="Build(IDictionary{string, string?}, string[])"/>; tests add a logger provider to see what is logged.</summary>
    internal static WebApplication Build(IDictionary<string, string?> overrides, string[]? args, Action<ILoggingBuilder>? configureLogging)
    {
        // appsettings.json is read from the binary's folder (ContentRootPath), not the working directory: docs/CONFIG.md.
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = args ?? [], ContentRootPath = AppContext.BaseDirectory });
        builder.Configuration.AddInMemoryCollection(overrides);
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            o.UseUtcTimestamp = true;
        });

        // A full console queue drops lines instead of blocking the request threads that log (issue 7, finding 12).
        builder.Services.Configure<ConsoleLoggerOptions>(o =>
        {
            o.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite;
            o.MaxQueueLength = 10_000;
        });
        DefaultLevels(builder.Logging, builder.Configuration);
        configureLogging?.Invoke(builder.Logging);

        var section = builder.Configuration.GetSection(SidecarsOptions.Section);
        var settings = SettingsBinder.Bind(section, out var unknownSettings);

        // Independent of the host, which takes most of start-up to build: read and compile the config (YAML, keys,
        // OpenSSL's first load) on another core meanwhile. Published below, before the server listens.
        var initialConfig = Task.Run(() => ConfigReloader.ReadInitial(settings.Config));
        builder.Services.Configure<SidecarsOptions>(section);
        // The host's timeout covers the delay, spent in ApplicationStopping before the servers stop, and the drain.
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = (settings.ShutdownDelay > TimeSpan.Zero ? settings.ShutdownDelay : TimeSpan.Zero) + settings.ShutdownTimeout);

        var grpc = ParseListener(settings.Grpc, "Grpc");
        var http = string.IsNullOrEmpty(settings.Http) ? null : ParseListener(settings.Http, "Http");
        var fileLimit = FileLimit.Raise(settings.RaiseFileLimit);
        var maxConnections = MaxConnections(settings.Connections.MaxConcurrent, fileLimit, http is null ? 1 : 2);
        builder.Services.AddSingleton<UnixSocketBindings>();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            ApplyLimits(kestrel.Limits, settings.Connections, maxConnections);
            var sockets = kestrel.ApplicationServices.GetRequiredService<UnixSocketBindings>();
            var mode = SettingsBinder.ParseMode(settings.UnixSocketMode);
            Listen(kestrel, sockets, grpc, HttpProtocols.Http2, "gRPC listener", mode);
            if (http is not null)
            {
                Listen(kestrel, sockets, http, HttpProtocols.Http1, "HTTP listener", mode);
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
        builder.Services.AddHostedService<ShutdownDelay>();
        builder.Services.AddSingleton<HealthService>();
        builder.Services.AddEnvoyGrpc(settings.Requests.MaxMessageBytes);

        var app = builder.Build();
        app.MapEnvoyGrpc();
        app.MapGrpcService<HealthService>();
        app.MapStatusEndpoints();
        app.MapConfigEndpoint();

        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Sidecars");
        ServerLog.Starting(logger, settings.ToString());
        foreach (var unknown in unknownSettings)
        {
            ServerLog.UnknownSetting(logger, unknown, SettingsBinder.EnvironmentName(unknown));
        }

        if (fileLimit is { } limit)
        {
            ServerLog.FileLimit(logger, limit.Before, limit.After, maxConnections);
        }

        // Created before the first config is published, so it fetches that config's JWKS.
        app.Services.GetRequiredService<JwksManager>();
        app.Services.GetRequiredService<ConfigReloader>().LoadInitial(initialConfig.GetAwaiter().GetResult());
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
            // Readiness goes false first; ShutdownDelay keeps the listeners answering, then in-flight calls get ShutdownTimeout.
            ServerLog.ShuttingDown(logger, settings.ShutdownTimeout);
            app.Services.GetRequiredService<ServingState>().BeginShutdown();
        });
        return app;
    }

    private static ListenAddress ParseListener(string text, string setting)
    {
        try
        {
            return ListenAddress.Parse(text);
        }
        catch (FormatException e)
        {
            var path = SidecarsOptions.Section + ":" + setting;
            throw new StartupException($"setting {path} ({SettingsBinder.EnvironmentName(path)}, --{setting.ToLowerInvariant()}) = '{text}' {e.Message}");
        }
    }

    /// <summary>
    /// The configured cap (Kestrel applies it to each listener), lowered so that every listener's connections fit in
    /// the open-files limit with a reserve for config files, Redis and JWKS.
    /// </summary>
    private static int MaxConnections(int configured, (ulong Before, ulong After)? fileLimit, int listeners)
    {
        if (fileLimit is not { After: var limit } || limit >= (ulong)configured * (ulong)listeners + FileLimit.Reserve)
        {
            return configured;
        }

        return (int)Math.Max(1, ((long)Math.Min(limit, int.MaxValue) - FileLimit.Reserve) / listeners);
    }

    private static void ApplyLimits(KestrelServerLimits limits, ConnectionSettings connections, int maxConnections)
    {
        limits.MaxConcurrentConnections = maxConnections;
        limits.MaxConcurrentUpgradedConnections = maxConnections;
        limits.KeepAliveTimeout = connections.KeepAliveTimeout;
        limits.RequestHeadersTimeout = connections.RequestHeadersTimeout;
        limits.MaxRequestHeadersTotalSize = connections.MaxRequestHeadersTotalSize;
        limits.MaxRequestHeaderCount = connections.MaxRequestHeaderCount;
        limits.Http2.MaxStreamsPerConnection = connections.MaxStreamsPerConnection;
        limits.Http2.KeepAlivePingDelay = connections.KeepAlivePingDelay;
        limits.Http2.KeepAlivePingTimeout = connections.KeepAlivePingTimeout;
    }

    /// <summary>
    /// Per-request framework logs would dominate a sidecar's output, and grpc-dotnet logs an Error with a stack for
    /// every stream a client resets (issue 7, finding 12). Our adapters catch their own failures, so what reaches
    /// ServerCallHandler is client-caused. A <c>Logging:LogLevel:&lt;category&gt;</c> setting replaces each default.
    /// </summary>
    private static void DefaultLevels(ILoggingBuilder logging, IConfiguration configuration)
    {
        Default("Microsoft.AspNetCore", LogLevel.Warning);
        // Hosting starts an Activity and a log scope for every request whenever this logger is enabled at any level,
        // Critical included, though it only logs requests at Information: 5.5 % of the server's CPU under h2load.
        Default("Microsoft.AspNetCore.Hosting.Diagnostics", LogLevel.None);
        Default("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        Default("Grpc", LogLevel.Warning);
        Default("Grpc.AspNetCore.Server.ServerCallHandler", LogLevel.Critical);
        // Kestrel warns once per connection it closes over MaxConcurrentConnections: a client opening connections
        // in a loop would write a line each (issue 7, finding 12's class).
        Default("Microsoft.AspNetCore.Server.Kestrel.Connections", LogLevel.Error);

        void Default(string category, LogLevel level)
        {
            if (configuration["Logging:LogLevel:" + category] is null)
            {
                logging.AddFilter(category, level);
            }
        }
    }

    private static void Listen(KestrelServerOptions kestrel, UnixSocketBindings sockets, ListenAddress address, HttpProtocols protocols, string listener, UnixFileMode? mode)
    {
        if (address.UnixSocketPath is { } path)
        {
            var fd = sockets.Bind(path, listener, mode);
            kestrel.ListenHandle((ulong)fd, o => o.Protocols = protocols);
        }
        else
        {
            TcpPortCheck.EnsureFree(address, listener);
            kestrel.Listen(address.Address!, address.Port, o => o.Protocols = protocols);
        }
    }
}
