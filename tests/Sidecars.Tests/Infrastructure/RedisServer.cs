using System.Diagnostics;
using System.Net.Sockets;

namespace Sidecars.Tests.Infrastructure;

/// <summary>
/// A real redis-server process on a free loopback port, in a temp directory, with persistence off.
/// It can be killed and started again on the same port (to test reconnection and NOSCRIPT).
/// </summary>
internal sealed class RedisServer : IDisposable
{
    private readonly string _directory;
    private readonly string[] _extraArgs;
    private readonly string[] _cliArgs;
    private readonly string[] _leadingArgs;
    private Process? _process;
    private string? _portArgument;

    private RedisServer(int port, string[] extraArgs, string[]? cliArgs = null, string[]? leadingArgs = null)
    {
        Port = port;
        _extraArgs = extraArgs;
        _cliArgs = cliArgs ?? [];
        _leadingArgs = leadingArgs ?? [];
        _directory = Path.Combine(Path.GetTempPath(), $"sidecars-redis-{port}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(_directory);
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    /// <summary>A StackExchange.Redis configuration string for this server.</summary>
    public string Configuration => $"{Endpoint},connectTimeout=2000,syncTimeout=2000,asyncTimeout=2000";

    public static RedisServer Start(params string[] extraArgs)
    {
        var server = new RedisServer(FreePort.Next(), extraArgs);
        server.Start();
        return server;
    }

    /// <summary>A TLS-only server: plain port off, TLS on a free port, clients not asked for certificates.</summary>
    public static RedisServer StartTls(string certificateFile, string keyFile, string caFile)
    {
        var port = FreePort.Next();
        var server = new RedisServer(
            port,
            ["--tls-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--tls-cert-file", certificateFile, "--tls-key-file", keyFile, "--tls-ca-cert-file", caFile, "--tls-auth-clients", "no"],
            ["--tls", "--cacert", caFile]);
        server._portArgument = "0";
        server.Start();
        return server;
    }

    /// <summary>A Sentinel on a free port monitoring <paramref name="master"/> as <paramref name="serviceName"/>.</summary>
    public static RedisServer StartSentinel(RedisServer master, string serviceName)
    {
        var port = FreePort.Next();
        var directory = Directory.CreateTempSubdirectory("sidecars-sentinel-").FullName;
        var config = Path.Combine(directory, "sentinel.conf");
        File.WriteAllText(config, $"sentinel monitor {serviceName} 127.0.0.1 {master.Port} 1\nsentinel down-after-milliseconds {serviceName} 5000\n");
        var server = new RedisServer(port, ["--sentinel"], leadingArgs: [config]);
        server.Start();
        return server;
    }

    /// <summary>A node for a Redis Cluster: cluster mode on, its bus port (port + 10000) free.</summary>
    public static RedisServer StartClusterNode()
    {
        var port = FreePortPair.Next();
        var server = new RedisServer(port, ["--cluster-enabled", "yes", "--cluster-config-file", $"nodes-{port}.conf", "--cluster-node-timeout", "5000"]);
        server.Start();
        return server;
    }

    public void Start()
    {
        string[] args = [.. _leadingArgs, "--port", _portArgument ?? Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", _directory, .. _extraArgs];
        try
        {
            _process = Process.Start(new ProcessStartInfo("redis-server", args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed: run scripts/test.sh (it installs Debian's redis-server) or `apt-get install redis-server`", e);
        }

        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            // NOAUTH is an answer too: the server is up and requires credentials.
            var answer = Cli("PING").Trim();
            if (answer == "PONG" || answer.StartsWith("NOAUTH", StringComparison.Ordinal))
            {
                return;
            }

            Task.Delay(25).GetAwaiter().GetResult();
        }

        throw new InvalidOperationException($"redis-server did not answer on {Endpoint}");
    }

    /// <summary>Kills the server at once (SIGKILL): clients see the connection drop mid-flight.</summary>
    public void Kill()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }

        // Wait until the port refuses connections.
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(5) && Accepts())
        {
            Task.Delay(25).GetAwaiter().GetResult();
        }
    }

    /// <summary>Runs redis-cli against this server and returns its output.</summary>
    public string Cli(params string[] command)
    {
        using var cli = Process.Start(new ProcessStartInfo("redis-cli", ["-h", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture), .. _cliArgs, .. command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var output = cli.StandardOutput.ReadToEnd();
        cli.WaitForExit(10_000);
        return output;
    }

    /// <summary>How many times a command ran, from INFO commandstats (e.g. "evalsha").</summary>
    public long CommandCount(string command)
    {
        foreach (var line in Cli("INFO", "commandstats").Split('\n'))
        {
            if (line.StartsWith($"cmdstat_{command}:calls=", StringComparison.Ordinal))
            {
                var calls = line[$"cmdstat_{command}:calls=".Length..];
                return long.Parse(calls[..calls.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private bool Accepts()
    {
        try
        {
            using var client = new TcpClient();
            client.Connect("127.0.0.1", Port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public void Dispose()
    {
        Kill();
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
