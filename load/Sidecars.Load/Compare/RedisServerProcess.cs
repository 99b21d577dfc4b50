using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace Sidecars.Load.Compare;

/// <summary>A real redis-server on a free loopback port, persistence off, for the rls-redis-* scenarios.</summary>
public sealed class RedisServerProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private RedisServerProcess(Process process, int port, string directory)
    {
        _process = process;
        Port = port;
        _directory = directory;
    }

    public int Port { get; }

    public string Endpoint => $"127.0.0.1:{Port}";

    public static RedisServerProcess Start(string logDirectory)
    {
        var port = ServerProcess.FreePort();
        var directory = Directory.CreateTempSubdirectory("sidecars-load-redis-").FullName;
        var port0 = port.ToString(CultureInfo.InvariantCulture);
        Process process;
        try
        {
            process = Process.Start(new ProcessStartInfo("redis-server", ["--port", port0, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, "--logfile", Path.GetFullPath(Path.Combine(logDirectory, "redis.log"))])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            })!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("redis-server is not installed (Debian: apt-get install redis-server); the rls-redis scenarios need it", e);
        }

        var server = new RedisServerProcess(process, port, directory);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var client = new TcpClient();
                client.Connect("127.0.0.1", port);
                return server;
            }
            catch (SocketException)
            {
                Thread.Sleep(20);
            }
        }

        server.Dispose();
        throw new TimeoutException($"redis-server did not listen on {server.Endpoint} within 10 s");
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(5000);
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
