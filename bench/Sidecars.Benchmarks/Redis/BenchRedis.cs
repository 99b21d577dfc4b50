using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Sidecars.Benchmarks.Redis;

/// <summary>
/// The one redis-server every benchmark of a run talks to. Program starts it before BenchmarkDotNet and
/// passes its port to the benchmark processes in SIDECARS_BENCH_REDIS_PORT.
/// </summary>
internal static class BenchRedis
{
    public const string PortVariable = "SIDECARS_BENCH_REDIS_PORT";

    public static int Port => int.Parse(Environment.GetEnvironmentVariable(PortVariable)
        ?? throw new InvalidOperationException($"{PortVariable} is not set: run the benchmarks through Program, which starts redis-server"), CultureInfo.InvariantCulture);

    public static string Configuration => $"127.0.0.1:{Port},asyncTimeout=5000";

    /// <summary>Starts redis-server on a free loopback port, persistence off; returns the process.</summary>
    public static Process Start()
    {
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
        }

        var directory = Directory.CreateTempSubdirectory("sidecars-bench-redis-").FullName;
        var process = Process.Start(new ProcessStartInfo("redis-server", ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory])
        {
            RedirectStandardOutput = true,
        })!;
        process.BeginOutputReadLine();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                using var client = new TcpClient("127.0.0.1", port);
                Environment.SetEnvironmentVariable(PortVariable, port.ToString(CultureInfo.InvariantCulture));
                return process;
            }
            catch (SocketException)
            {
                Task.Delay(25).GetAwaiter().GetResult();
            }
        }

        throw new InvalidOperationException("redis-server did not start");
    }
}
