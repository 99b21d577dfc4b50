using Microsoft.AspNetCore.Builder;
using Sidecars.Config;
using Sidecars.Server.Hosting;

namespace Sidecars.Server;

/// <summary>
/// <c>sidecars</c> (serve the embedded example), <c>sidecars serve [--config DIR] [--grpc ADDR] [--http ADDR]</c>,
/// <c>sidecars validate DIR</c>. Any other setting goes through configuration (<c>SIDECARS__...</c>, appsettings.json).
/// </summary>
public static class Cli
{
    private const string Usage = """
        usage:
          sidecars                                   serve the embedded example config (in-memory limiter)
          sidecars serve [--config DIR] [--grpc HOST:PORT|unix:/path.sock] [--http HOST:PORT] [--redis CONFIG] [--shadow-mode]
          sidecars validate DIR                      exit 0 if DIR is a valid config, else print file:line:col: message and exit 1
        every setting can also be given as an environment variable (SIDECARS__GRPC, SIDECARS__MEMORY__MAXKEYS, ...)
        or in appsettings.json under "Sidecars"; see docs/CONFIG.md
        """;

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            return await ServeAsync(new Dictionary<string, string?>()).ConfigureAwait(false);
        }

        switch (args[0])
        {
            case "validate" when args.Length == 2:
                return Validate(args[1]);
            case "serve":
                var overrides = new Dictionary<string, string?>();
                for (var i = 1; i < args.Length; i++)
                {
                    var key = args[i] switch
                    {
                        "--config" => "Config",
                        "--grpc" => "Grpc",
                        "--http" => "Http",
                        "--shadow-mode" => "ShadowMode",
                        "--redis" => "Redis:Configuration",
                        _ => null,
                    };
                    if (key is null || (key != "ShadowMode" && i + 1 >= args.Length))
                    {
                        return Fail($"unknown or incomplete option '{args[i]}'");
                    }

                    overrides[SidecarsOptions.Section + ":" + key] = key == "ShadowMode" ? "true" : args[++i];
                }

                return await ServeAsync(overrides).ConfigureAwait(false);
            case "-h" or "--help" or "help":
                Console.Out.WriteLine(Usage);
                return 0;
            default:
                return Fail($"unknown command '{string.Join(' ', args)}'");
        }
    }

    private static async Task<int> ServeAsync(Dictionary<string, string?> overrides)
    {
        WebApplication app;
        try
        {
            app = SidecarApp.Build(overrides);
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors)
            {
                Console.Error.WriteLine(error);
            }

            Console.Error.WriteLine($"sidecars: config invalid ({e.Errors.Count} errors); not starting");
            return 1;
        }
        catch (FormatException e)
        {
            return Fail(e.Message);
        }

        await using (app.ConfigureAwait(false))
        {
            await app.RunAsync().ConfigureAwait(false);
        }

        return 0;
    }

    private static int Validate(string directory)
    {
        try
        {
            var snapshot = ConfigLoader.LoadDirectory(directory, out var warnings);
            foreach (var warning in warnings)
            {
                Console.Error.WriteLine($"{directory}: warning: {warning}");
            }

            Console.Out.WriteLine($"{directory}: valid ({snapshot.RateLimits.Domains.Count} domains, {snapshot.RateLimits.LimitCount} limits, {snapshot.Files.Count} files)");
            return 0;
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors)
            {
                Console.Out.WriteLine(error);
            }

            return 1;
        }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine("sidecars: " + message);
        Console.Error.WriteLine(Usage);
        return 2;
    }
}
