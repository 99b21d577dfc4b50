using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Sidecars.Config;
using Sidecars.Server.Hosting;

namespace Sidecars.Server;

/// <summary>
/// <c>sidecars</c> (serve the embedded example), <c>sidecars serve [--config DIR] [--grpc ADDR] [--http ADDR]</c>,
/// <c>sidecars validate DIR</c>, <c>--help</c> per command, <c>--version</c>. Any other setting goes through configuration
/// (<c>SIDECARS__...</c>, appsettings.json). Hand-written: three commands and five options do not need a parser
/// package, and this keeps the binary free of one. Exit codes: 0 ok, 1 invalid config or a start-up failure,
/// 2 a usage error; every error goes to stderr as one line (issue 7, findings 14 and 18).
/// </summary>
public static class Cli
{
    private const string Usage = """
        usage:
          sidecars                    serve the embedded example config (in-memory limiter)
          sidecars serve [options]    serve a config directory; 'sidecars serve --help' lists the options
          sidecars validate DIR       exit 0 if DIR is a valid config, else print file:line:col: message and exit 1
          sidecars test DIR           run the *.test.yaml cases of DIR offline; one line per failing case, exit 1 on any
          sidecars explain --config DIR --request FILE.yaml
                                      show which service, route, requirement, rules and limits decide a request
          sidecars hash-key           read an API key on stdin, print the sha256 its config entry holds
          sidecars --version          print the version
          sidecars --help             this text
        every setting can also be given as an environment variable (SIDECARS__GRPC, SIDECARS__MEMORY__MAXKEYS, ...)
        or in appsettings.json under "Sidecars" (read from the binary's folder); see docs/CONFIG.md
        """;

    private const string ServeUsage = """
        usage: sidecars serve [options]
          --config DIR                    config directory (default: the example config embedded in the binary)
          --grpc HOST:PORT|unix:/x.sock   gRPC listener (default 127.0.0.1:8081)
          --http HOST:PORT                /healthz and /readyz listener (default 127.0.0.1:8080; '' disables it)
          --redis CONFIG                  keep the buckets in Redis (StackExchange.Redis configuration string)
          --shadow-mode                   answer OK to every request, still counting and reporting limits
          -h, --help                      this text
        exit codes: 0 after a clean shutdown, 1 if the config or a setting is invalid or a listener cannot start, 2 for a usage error
        every other setting: SIDECARS__<NAME> or appsettings.json; see docs/CONFIG.md#server-settings
        """;

    private const string ValidateUsage = """
        usage: sidecars validate DIR
          checks the config directory DIR the way a reload does, without starting anything
          exit 0 and one summary line on stdout if it is valid; else each error as file:line:col: message
          on stderr and exit 1; exit 2 for a usage error (no DIR, DIR not a directory)
        """;

    private const string TestUsage = """
        usage: sidecars test DIR
          loads the config of DIR, then runs the cases of every DIR/*.test.yaml against it, in process: tokens are
          signed with a key generated for the run, API keys made for the run, buckets fresh per case (no Envoy,
          Redis or identity provider needed); prints file.test.yaml:LINE: case: expected ..., got ... per failing
          case and 'N passed, N failed'; exit 1 if any failed or the config is invalid
        """;

    private const string ExplainUsage = """
        usage: sidecars explain --config DIR --request FILE.yaml
          FILE.yaml is a request as a test case states it (host, path, method, headers, source_ip, principal,
          context, token: {provider, claims}, api_key: {id}); prints the owner, each route tried, the requirement,
          each rule and limit with its outcome, and the answer
        """;

    private static int ExplainCommand(string[] args)
    {
        string? config = null, request = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help":
                    return Print(ExplainUsage);
                case "--config" when i + 1 < args.Length:
                    config = args[++i];
                    break;
                case "--request" when i + 1 < args.Length:
                    request = args[++i];
                    break;
                default:
                    return UsageError($"unexpected argument '{args[i]}'", "explain");
            }
        }

        if (config is null || request is null)
        {
            return UsageError("explain needs --config DIR and --request FILE.yaml", "explain");
        }

        try
        {
            return Tools.PolicyExplainCommand.Run(config, request, Console.Out, Console.Error);
        }
        catch (InvalidDataException e)
        {
            Console.Error.WriteLine($"sidecars: {request}: {e.Message}");
            return 1;
        }
    }

    /// <summary>The key on stdin (one line), its SHA-256 on stdout: the key never needs to be an argument (shell history, ps).</summary>
    private static int HashKey()
    {
        var key = Console.In.ReadLine()?.Trim();
        if (string.IsNullOrEmpty(key))
        {
            Console.Error.WriteLine("sidecars: hash-key reads the API key from stdin (echo -n KEY | sidecars hash-key)");
            return 2;
        }

        Console.Out.WriteLine(Sidecars.Authorization.Services.ApiKeySet.HashOf(key));
        return 0;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            return await ServeAsync(new Dictionary<string, string?>()).ConfigureAwait(false);
        }

        switch (args[0])
        {
            case "-h" or "--help" or "help":
                return args.Length > 1 && args[0] == "help" ? Help(args[1]) : Print(Usage);
            case "--version" or "version":
                Console.Out.WriteLine("sidecars " + Version());
                return 0;
            case "validate":
                return ValidateCommand(args[1..]);
            case "serve":
                return await ServeCommandAsync(args[1..]).ConfigureAwait(false);
            case "test":
                return args is [_, var directory] && !directory.StartsWith('-')
                    ? Tools.PolicyTestCommand.Run(directory, Console.Out, Console.Error)
                    : args is [_, "-h" or "--help"] ? Print(TestUsage) : UsageError("test takes one config directory", "test");
            case "explain":
                return ExplainCommand(args[1..]);
            case "hash-key":
                return HashKey();
            default:
                return UsageError(args[0].StartsWith('-') ? $"unknown option '{args[0]}'" : $"unknown command '{args[0]}'", "");
        }
    }

    private static int Help(string command) => command switch
    {
        "serve" => Print(ServeUsage),
        "validate" => Print(ValidateUsage),
        "test" => Print(TestUsage),
        "explain" => Print(ExplainUsage),
        _ => UsageError($"unknown command '{command}'", ""),
    };

    private static int ValidateCommand(string[] args)
    {
        if (args is ["-h" or "--help"])
        {
            return Print(ValidateUsage);
        }

        if (args.Length == 0)
        {
            return UsageError("validate needs the config directory to check", "validate");
        }

        if (args.Length > 1 || args[0].StartsWith('-'))
        {
            return UsageError(args.Length > 1 ? $"validate takes one directory, got {args.Length} arguments" : $"unknown option '{args[0]}'", "validate");
        }

        if (File.Exists(args[0]))
        {
            return UsageError($"{args[0]} is not a directory (validate checks a config directory)", "validate");
        }

        return Validate(args[0]);
    }

    private static async Task<int> ServeCommandAsync(string[] args)
    {
        var overrides = new Dictionary<string, string?>();
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            if (arg is "-h" or "--help")
            {
                return Print(ServeUsage);
            }

            // --name=value as well as --name value.
            string? inlineValue = null;
            if (arg.StartsWith("--", StringComparison.Ordinal) && arg.IndexOf('=', StringComparison.Ordinal) is > 2 and var equals)
            {
                inlineValue = arg[(equals + 1)..];
                arg = arg[..equals];
            }

            var key = arg switch
            {
                "--config" => "Config",
                "--grpc" => "Grpc",
                "--http" => "Http",
                "--shadow-mode" => "ShadowMode",
                "--redis" => "Redis:Configuration",
                _ => null,
            };
            if (key is null)
            {
                return UsageError(arg.StartsWith('-') ? $"unknown option '{arg}'" : $"unexpected argument '{arg}'", "serve");
            }

            string value;
            if (key == "ShadowMode")
            {
                value = inlineValue ?? "true";
            }
            else if (inlineValue is not null)
            {
                value = inlineValue;
            }
            else if (i + 1 < args.Length)
            {
                value = args[++i];
            }
            else
            {
                return UsageError($"option '{arg}' needs a value", "serve");
            }

            overrides[SidecarsOptions.Section + ":" + key] = value;
        }

        return await ServeAsync(overrides).ConfigureAwait(false);
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
        catch (Exception e)
        {
            return StartFailed(e);
        }

        await using (app.ConfigureAwait(false))
        {
            try
            {
                await app.StartAsync().ConfigureAwait(false);
            }
            catch (Exception e)
            {
                return StartFailed(e);
            }

            await app.WaitForShutdownAsync().ConfigureAwait(false);
        }

        return 0;
    }

    /// <summary>One line, no stack trace: a <see cref="StartupException"/> says it all; anything else gets its message.</summary>
    private static int StartFailed(Exception e)
    {
        var message = e switch
        {
            StartupException => e.Message,
            // A bind that lost the race with another process after TcpPortCheck: Kestrel names the address.
            IOException { InnerException: { } inner } when inner is SocketException or IOException => "a listener cannot start: " + inner.Message,
            _ => $"cannot start: {e.Message} ({e.GetType().Name})",
        };
        Console.Error.WriteLine("sidecars: " + message.ReplaceLineEndings(" "));
        return 1;
    }

    /// <summary>The one validation of a directory (the command's and the tests'): exit 0 valid, 1 invalid.</summary>
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
                Console.Error.WriteLine(error);
            }

            return 1;
        }
    }

    private static string Version() =>
        typeof(Cli).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Cli).Assembly.GetName().Version?.ToString()
        ?? "unknown";

    private static int Print(string text)
    {
        Console.Out.WriteLine(text);
        return 0;
    }

    /// <summary>One line on stderr, pointing at the command's help; exit 2.</summary>
    private static int UsageError(string message, string command)
    {
        var help = command.Length == 0 ? "sidecars --help" : $"sidecars {command} --help";
        Console.Error.WriteLine($"sidecars: {message} (see '{help}')");
        return 2;
    }
}
